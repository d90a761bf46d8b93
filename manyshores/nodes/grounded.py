"""A grounded reply (path `grounded`): a chat model's text written from the numbered evidence,
as the expert node streams it and as aggregate composes it.

Both read the model's text through the same `CitationGate` (`answers.grounded`), so what was
streamed is the start of the reply: sentences are released whole, their citations checked
against the numbers that persona was given. Several personas (an ambiguous culture) are not
streamed; aggregate keeps the answer they agree on most, weighted by the posterior
(`ExpertBackend.aggregate`), and the trace keeps each one's answer and the sources it had.

When the chat model failed, or wrote nothing that can be shown, the reply keeps what was
released and adds the reply the turn would have had without a chat model (the evidence reply,
or the limit of what can be done and no information): a grounded request keeps its evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from manyshores.answers.grounded import (
    FALLBACK_NOTE,
    CitationGate,
    GroundCandidate,
    grounding,
    lead_of,
)
from manyshores.components import Components
from manyshores.state import CultureState, EvidenceRecord, ExpertAnswer, Source


def gate_for(sources: list[Source], refs: list[str], question: str) -> CitationGate:
    """The citation gate of a persona given the sources `refs`: their numbers may be cited;
    their texts and the question must not be copied back."""
    position = {s["ref"]: i for i, s in enumerate(sources, start=1)}
    numbers = sorted({position[r] for r in refs if r in position})
    shown = [str(sources[n - 1]["snippet"]) for n in numbers]
    return CitationGate(numbers, [*shown, question])


def asked(state: Any) -> str:
    """The question the personas were asked (as the expert node sends it)."""
    return str(state.get("query") or state.get("text") or "")


class GroundedStream:
    """A lone grounded persona's words as the reply shows them (whole checked sentences)."""

    def __init__(self, state: Any, culture: str) -> None:
        sources = state.get("sources", [])
        found = grounding(state.get("evidence", []), sources, [culture] if culture else [])
        self.gate = gate_for(sources, list(found.numbers.values()), asked(state))

    def feed(self, piece: str) -> str:
        return self.gate.feed(piece)


def _gated(answer: ExpertAnswer, sources: list[Source], question: str) -> CitationGate:
    gate = gate_for(sources, list(answer.get("sources", [])), question)
    gate.feed(answer["text"])
    gate.finish()
    return gate


def _candidates(records: list[EvidenceRecord], sources: list[Source]) -> list[GroundCandidate]:
    return grounding(records, sources, []).candidates


def grounded_update(
    state: CultureState, components: Components, without_chat: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """aggregate's update for a grounded turn; `without_chat` gives the update the turn would
    have without a chat model (the part a failed or empty answer keeps)."""
    answers = state.get("expert_answers", [])
    sources = state.get("sources", [])
    task = state["task"]
    request = task.get("request", "fact")
    gates = [_gated(a, sources, asked(state)) for a in answers]
    shown: list[tuple[ExpertAnswer, CitationGate]] = []
    for a, g in zip(answers, gates, strict=True):
        if g.text:
            one: ExpertAnswer = {**a}
            one["text"] = g.text.strip()
            shown.append((one, g))
    notes = list(dict.fromkeys(a["note"] for a in answers if a.get("note")))
    dropped = sorted({n for g in gates for n in g.dropped})
    if dropped:
        notes.append(f"citations of unlisted sources taken out: {dropped}")
    disagreement = 0.0
    if len(shown) > 1:
        text, _, _, disagreement, more = components.get_experts().aggregate(
            [a for a, _ in shown], task
        )
        notes += more
    elif shown:
        text = shown[0][0]["text"]
    else:
        text = ""
    chosen = next((a for a, _ in shown if a["text"] == text), None)
    failed = chosen is None or FALLBACK_NOTE in str(chosen.get("note", ""))
    if not failed:
        given = len(chosen.get("sources", [])) if chosen is not None else 0
        lead = lead_of(text, request, _candidates(state.get("evidence", []), sources))
        return {
            "answer": text,
            "short": lead.short,
            "answers": lead.answers,
            "wording": "generated",
            "confidence": lead.confidence,
            "option_probs": [],
            "choice": None,
            "disagreement": disagreement,
            "notes": [*notes, f"written by the chat model from {given} numbered sources"],
        }
    base = without_chat()
    if not answers or not text:
        why = (
            "it failed"
            if any(FALLBACK_NOTE in n for n in notes)
            else "nothing it wrote passed the checks: empty, or its prompt copied back"
        )
        return {**base, "notes": [*notes, f"no chat model text shown ({why})", *base["notes"]]}
    # Part of the text was shown before the model failed: it stays, the evidence part follows.
    lead = lead_of(text, request, _candidates(state.get("evidence", []), sources))
    return {
        **base,
        "answer": f"{text}\n{base['answer']}".strip(),
        "short": lead.short or base.get("short", ""),
        "answers": lead.answers or base.get("answers", []),
        "wording": "generated",
        "confidence": lead.confidence,
        "notes": [*notes, *base.get("notes", [])],
    }
