"""aggregate: combine the committee's answers into one, recording how much the experts disagree."""

from __future__ import annotations

from typing import Any

from manyshores.components import Components
from manyshores.state import CultureState


def make_aggregate(components: Components) -> Any:
    def aggregate(state: CultureState) -> dict[str, Any]:
        answers = state.get("expert_answers", [])
        text, probs, choice, disagreement, notes = components.get_experts().aggregate(
            answers, state["task"]
        )
        return {
            "answer": text,
            "option_probs": probs,
            "choice": choice,
            "disagreement": disagreement,
            "notes": notes,
        }

    return aggregate
