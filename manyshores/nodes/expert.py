"""expert: one batch of culture experts answers (option distributions or generated text)."""

from __future__ import annotations

from typing import Any

from manyshores.graph.components import Components
from manyshores.nodes.common import conversation


def make_expert(components: Components) -> Any:
    def expert(payload: dict[str, Any]) -> dict[str, Any]:
        answers = components.get_experts().answer(
            payload["expert_batch"],
            text=payload["text"],
            task=payload["task"],
            sources=payload.get("sources", []),
            conversation=conversation(payload["messages"], components.settings.max_message_chars),
        )
        return {"expert_answers": answers}

    return expert
