"""aggregate: decide the turn's answer and compose the reply a person reads.

- An option question: the committee's distribution; the reply leads with the most likely option
  and says how the rest spread; `choice` keeps the expected-position option for the metrics.
- An open question with evidence: the best-ranked human answers, each cited, no model text.
- An open question without: say there is no information, then the model's general answer,
  cleaned (no loops, whole sentences) and labelled as general.
"""

from __future__ import annotations

from typing import Any

from manyshores.answers.compose import (
    CitedAnswer,
    Reply,
    culture_label,
    evidence_reply,
    no_evidence_reply,
    survey_reply,
)
from manyshores.components import Components
from manyshores.nodes.general_answer import reply_culture, usable_model_text
from manyshores.state import CultureState, EvidenceRecord, Source


def _cites(refs: list[str], sources: list[Source]) -> tuple[int, ...]:
    positions = {s["ref"]: i for i, s in enumerate(sources, start=1)}
    return tuple(sorted({positions[r] for r in refs if r in positions}))[:2]


def compose_evidence(
    records: list[EvidenceRecord], sources: list[Source], lang: str
) -> tuple[Reply, list[EvidenceRecord]]:
    """The evidence reply and the records with each shown candidate marked `used`."""
    parts: list[tuple[str, list[CitedAnswer]]] = []
    marked: list[EvidenceRecord] = []
    for record in records:
        shown = 0
        candidates = []
        for c in record["candidates"]:
            use = record["usable"] and shown < 3
            candidates.append({**c, "used": use})
            shown += int(use)
        marked.append({**record, "candidates": candidates})
        answers = [
            CitedAnswer(str(c["text"]), _cites(list(c["refs"]), sources))
            for c in candidates
            if c["used"]
        ]
        if answers:
            parts.append((culture_label(record["culture"], lang), answers))
    return evidence_reply(parts, lang), marked


def make_aggregate(components: Components) -> Any:
    def aggregate(state: CultureState) -> dict[str, Any]:
        answers = state.get("expert_answers", [])
        task = state["task"]
        lang = state.get("language") or "en"
        records = state.get("evidence", [])
        if not task["options"] and any(r["usable"] for r in records):
            reply, marked = compose_evidence(records, state.get("sources", []), lang)
            return {
                "answer": reply.text,
                "short": reply.short,
                "answers": reply.answers,
                "evidence": marked,
                "option_probs": [],
                "choice": None,
                "disagreement": 0.0,
                "notes": [f"answered from evidence: {len(reply.answers)} cited answers"],
            }
        text, probs, choice, disagreement, notes = components.get_experts().aggregate(answers, task)
        if not state.get("experts"):
            notes = []  # none was chosen: the reply below says why
        general = any(a["expert_id"] == "base" for a in answers) or not answers
        name = reply_culture(state, lang)
        if task["options"] and probs:
            reply = survey_reply(name or "", task["options"], probs, lang)
        else:
            # The same text and rules as what `expert` streamed, so the reply extends it.
            cleaned, why = usable_model_text(
                text, state.get("query") or state["text"], lang, components
            )
            if why:
                notes = [*notes, f"general answer dropped: {why}"]
            if general or not cleaned:
                reply = no_evidence_reply(name, cleaned or None, lang)
            else:  # a culture's trained task adapter: its answer, cleaned
                reply = Reply(text=cleaned, short="", answers=[])
        return {
            "answer": reply.text,
            "short": reply.short,
            "answers": reply.answers,
            "option_probs": probs,
            "choice": choice,
            "disagreement": disagreement,
            "notes": notes,
        }

    return aggregate
