"""aggregate: decide the turn's answer and compose the reply a person reads.

- An option question (`nodes.options`): survey shares when survey memory answered, worded as
  the culture's answers to similar survey questions; an everyday question's options weighed
  against the culture's evidence, in words; with no culture, the answer depends on one.
- An open question with evidence: the best-ranked human answers, each cited, no model text.
- An open question without: say there is no information, then the model's general answer,
  cleaned (no loops, whole sentences) and labelled as general.
"""

from __future__ import annotations

from typing import Any

from manyshores.answers.compose import (
    CitedAnswer,
    EvidencePart,
    Reply,
    evidence_reply,
    no_evidence_reply,
)
from manyshores.answers.requests import limit_sentence, request_reply
from manyshores.answers.yours import topic_label
from manyshores.components import Components
from manyshores.nodes.general_answer import reply_culture, usable_model_text
from manyshores.nodes.grounded import grounded_update
from manyshores.nodes.options import answer_options
from manyshores.state import CulturePosterior, CultureState, EvidenceRecord, Source


def _cites(refs: list[str], sources: list[Source]) -> tuple[int, ...]:
    positions = {s["ref"]: i for i, s in enumerate(sources, start=1)}
    return tuple(sorted({positions[r] for r in refs if r in positions}))[:2]


def compose_evidence(
    records: list[EvidenceRecord],
    sources: list[Source],
    lang: str,
    posterior: CulturePosterior | None = None,
) -> tuple[Reply, list[EvidenceRecord]]:
    """The evidence reply, each culture's paragraph worded by what was matched (`answer`: the
    bank question is the asked one; `related`: named, in the reply's language where the bank
    has it), and the records with each shown candidate marked `used`."""
    parts: list[EvidencePart] = []
    marked: list[EvidenceRecord] = []
    for record in records:
        shown = 0
        candidates = []
        for c in record["candidates"]:
            use = record["usable"] and shown < 3
            candidates.append({**c, "used": use})
            shown += int(use)
        marked.append({**record, "candidates": candidates})
        used = [c for c in candidates if c["used"]]
        if used:
            answers = [CitedAnswer(str(c["text"]), _cites(list(c["refs"]), sources)) for c in used]
            local = lang != "en" and record.get("language") == lang
            question = str((local and used[0].get("question_local")) or used[0]["question"])
            wording = str(record.get("wording") or "related")
            name = topic_label(record["culture"], posterior, lang)
            first = bool(used[0].get("first", True))
            parts.append(EvidencePart(name, answers, wording, question, first))
    return evidence_reply(parts, lang), marked


def lead_judgement(records: list[EvidenceRecord]) -> tuple[str, float | None]:
    """(wording, confidence) of the reply's lead: its first culture with a shown answer."""
    for record in records:
        if any(c.get("used") for c in record["candidates"]):
            return str(record.get("wording") or "related"), record.get("confidence")
    return "none", None


def make_aggregate(components: Components) -> Any:
    def aggregate(state: CultureState) -> dict[str, Any]:
        answers = state.get("expert_answers", [])
        task = state["task"]
        lang = state.get("language") or "en"
        records = state.get("evidence", [])
        request = task.get("request", "fact")
        chosen = state.get("experts") or []
        if not task["options"] and chosen and chosen[0].get("path") == "grounded":
            # A chat model wrote it from the evidence; what the turn would say without one is
            # the part a failed answer keeps.
            without = {**state, "experts": [], "expert_answers": []}
            return grounded_update(state, components, lambda: aggregate(without))  # type: ignore[arg-type]
        if not task["options"] and any(r["usable"] for r in records):
            if request != "fact":  # not a short fact: people's answers are only related to it
                records = [{**r, "wording": "related"} for r in records]
            reply, marked = compose_evidence(
                records, state.get("sources", []), lang, state.get("posterior")
            )
            if request != "fact":
                reply = request_reply(request, reply, lang)
            wording, confidence = lead_judgement(marked)
            return {
                "answer": reply.text,
                "short": reply.short,
                "answers": reply.answers,
                "wording": wording if request == "fact" else "related",
                "confidence": confidence,
                "evidence": marked,
                "option_probs": [],
                "choice": None,
                "disagreement": 0.0,
                "notes": [f"answered from evidence: {len(reply.answers)} cited answers"],
            }
        if task["options"]:
            return answer_options(state, components, lang)
        text, probs, choice, disagreement, notes = components.get_experts().aggregate(answers, task)
        if not state.get("experts"):
            notes = []  # none was chosen: the reply below says why
        general = any(a["expert_id"] == "base" for a in answers) or not answers
        name = reply_culture(state, lang)
        # The same text and rules as what `expert` streamed, so the reply extends it.
        cleaned, why = usable_model_text(
            text, state.get("query") or state["text"], lang, components
        )
        if why:
            notes = [*notes, f"general answer dropped: {why}"]
        if general or not cleaned:
            reply = no_evidence_reply(name, cleaned or None, lang)
            if request != "fact" and not answers:  # no model was asked to write it
                reply = Reply(text=f"{limit_sentence(request, lang)}\n{reply.text}")
        else:  # a culture's trained task adapter: its answer, cleaned
            reply = Reply(text=cleaned, short="", answers=[])
        return {
            "answer": reply.text,
            "short": reply.short,
            "answers": reply.answers,
            "wording": "none",  # no evidence lead (a survey or general reply)
            "confidence": None,
            "option_probs": probs,
            "choice": choice,
            "disagreement": disagreement,
            "notes": notes,
        }

    return aggregate
