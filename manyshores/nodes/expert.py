"""expert: one batch of culture experts answers (option distributions or generated text)."""

from __future__ import annotations

from typing import Any

from langgraph.config import get_stream_writer

from manyshores.components import Components
from manyshores.nodes.common import conversation


def make_expert(components: Components) -> Any:
    def expert(payload: dict[str, Any]) -> dict[str, Any]:
        writer = get_stream_writer()  # a no-op unless the caller streams "custom" events
        batch = payload["expert_batch"]

        def on_token(piece: str) -> None:
            writer({"text": piece, "expert": batch[0]["id"]})

        answers = components.get_experts().answer(
            batch,
            text=payload["text"],
            task=payload["task"],
            sources=payload.get("sources", []),
            conversation=conversation(payload["messages"], components.settings.max_message_chars),
            on_token=on_token,
        )
        return {"expert_answers": answers}

    return expert
