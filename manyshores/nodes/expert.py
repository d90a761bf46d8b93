"""expert: one batch of culture experts answers (option distributions or generated text)."""

from __future__ import annotations

from typing import Any

from langgraph.config import get_stream_writer

from manyshores.components import Components


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
            # The question alone (a follow-up already joined to the question it continues):
            # earlier turns' options and answers must not leak into this answer.
            conversation=[{"role": "user", "content": payload.get("query") or payload["text"]}],
            on_token=on_token,
        )
        return {"expert_answers": answers}

    return expert
