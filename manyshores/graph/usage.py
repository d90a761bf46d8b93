"""Token usage of one graph turn, summed over the experts that answered it.

Every expert's prompt and answer are counted by the base model's tokenizer when the answer is
produced (`ExpertAnswer.input_tokens` / `output_tokens`, see `manyshores.runtime.usage`); a
committee's usage is the sum over its experts. An answer with no expert generation — scored
options, or a reply composed from retrieved human answers — adds 0 output tokens: the usage
counts what the model computed, not the length of the reply. An answer without counts adds 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from langchain_core.messages.ai import UsageMetadata

from manyshores.state import ExpertAnswer


class ExpertUsage(TypedDict):
    """One expert's share of a turn's usage (the message's `response_metadata`)."""

    expert_id: str
    """The expert, as in `ExpertAnswer.expert_id`."""
    culture: str
    """The culture it answered for."""
    input_tokens: int
    """Tokens of the prompt it saw (0 when the answer carries no count)."""
    output_tokens: int
    """Tokens it generated (0 for scored options and answers composed without generation)."""


def turn_usage(answers: Sequence[ExpertAnswer]) -> tuple[UsageMetadata, list[ExpertUsage]]:
    """(the turn's usage, each expert's part of it)."""
    parts: list[ExpertUsage] = [
        {
            "expert_id": a["expert_id"],
            "culture": a["culture"],
            "input_tokens": int(a.get("input_tokens", 0)),
            "output_tokens": int(a.get("output_tokens", 0)),
        }
        for a in answers
    ]
    inputs = sum(p["input_tokens"] for p in parts)
    outputs = sum(p["output_tokens"] for p in parts)
    usage = UsageMetadata(input_tokens=inputs, output_tokens=outputs, total_tokens=inputs + outputs)
    return usage, parts
