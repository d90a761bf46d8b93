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
from manyshores.answers.hygiene import clean_reply
from manyshores.components import Components
from manyshores.nodes.route import culture_in_play
from manyshores.state import CultureState, EvidenceRecord, Source

MIN_LANGUAGE_CONFIDENCE = 0.5
"""A general answer the identifier confidently places in another language than the question's
is dropped (the 135M model often answers in English whatever it is asked in)."""


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


def usable_general_answer(
    text: str, question: str, lang: str, components: Components
) -> tuple[str, str | None]:
    """The model's general answer cleaned, or ("", why) when it must not be shown: a language
    the base model does not write well (settings), another language than the question's, or
    the question repeated back."""
    allowed = components.settings.general_answer_languages
    if "*" not in allowed and lang not in allowed:
        return "", f"the base model's {lang} text is not shown (general_answer_languages)"
    cleaned = clean_reply(text) if text else ""
    if not cleaned:
        return "", "empty"
    if echoes(cleaned, question):
        return "", "it repeats the question"
    said = components.get_detector().language_of(cleaned)
    if said is not None and said[0] != lang and said[1] >= MIN_LANGUAGE_CONFIDENCE:
        return "", f"written in {said[0]}, asked in {lang}"
    return cleaned, None


def echoes(answer: str, question: str) -> bool:
    """True when the answer mostly repeats the question's words."""
    asked = set(question.lower().split())
    said = answer.lower().split()
    return bool(said) and sum(w in asked for w in said) / len(said) > 0.7


def make_aggregate(components: Components) -> Any:
    def aggregate(state: CultureState) -> dict[str, Any]:
        answers = state.get("expert_answers", [])
        task = state["task"]
        lang = state.get("language") or "en"
        posterior = state["posterior"]
        top = posterior["cultures"][0]["id"] if posterior.get("cultures") else None
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
        culture = top if culture_in_play(posterior) else None
        if task["options"] and probs:
            reply = survey_reply(culture_label(culture, lang) if culture else "", task["options"],
                                 probs, lang)  # fmt: skip
        else:
            cleaned, why = usable_general_answer(
                text, state.get("query") or state["text"], lang, components
            )
            if why:
                notes = [*notes, f"general answer dropped: {why}"]
            if general or not cleaned:
                name = culture_label(culture, lang) if culture else None
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
