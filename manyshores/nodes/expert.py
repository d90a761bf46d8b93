"""expert: one batch of culture experts answers (option distributions or generated text)."""

from __future__ import annotations

from typing import Any

from langgraph.config import get_config, get_stream_writer

from manyshores.budget import DEADLINE_KEY, budget_scope
from manyshores.components import Components
from manyshores.nodes.common import conversation


def make_expert(components: Components) -> Any:
    def expert(payload: dict[str, Any]) -> dict[str, Any]:
        writer = get_stream_writer()  # a no-op unless the caller streams "custom" events
        batch = payload["expert_batch"]

        def on_token(piece: str) -> None:
            writer({"text": piece, "expert": batch[0]["id"]})

        settings = components.settings
        deadline = (get_config().get("configurable") or {}).get(DEADLINE_KEY)
        with budget_scope(deadline, settings.turn_timeout_s) as budget:
            answers = components.get_experts().answer(
                batch,
                text=payload["text"],
                task=payload["task"],
                sources=payload.get("sources", []),
                conversation=conversation(payload["messages"], settings.max_message_chars),
                on_token=on_token,
            )
        if budget is not None and budget.cut:
            note = f"the turn's time budget ({budget.seconds:g} s) ran out: the answer is cut short"
            return {"expert_answers": answers, "notes": [note]}
        return {"expert_answers": answers}

    return expert
