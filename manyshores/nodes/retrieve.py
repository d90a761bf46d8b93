"""retrieve: cultural context from the knowledge base and the web, each passage with its source."""

from __future__ import annotations

from typing import Any

from manyshores.components import Components
from manyshores.state import CultureState


def make_retrieve(components: Components) -> Any:
    def retrieve(state: CultureState) -> dict[str, Any]:
        sources, notes = components.get_retriever().retrieve(state["text"], state["posterior"])
        return {"sources": sources, "notes": notes}

    return retrieve
