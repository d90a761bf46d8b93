"""aggregate's option branch: what an option question is answered with, and in which words.

- No culture in play: the answer depends on one; the reply asks which (no shares, no pick).
- Survey memory answered (the question is close to a known World Values Survey question): its
  shares, worded as the culture's answers to similar survey questions.
- Otherwise an everyday question: each option scored against the culture's evidence (people's
  answers to similar questions, `EvidenceSource.score_options`), in words ("most likely", "also
  possible"), with what people said that the lead rests on, cited.
- Neither survey nor evidence: no information, then the experts' pick marked as a guess.

The experts' distribution and `choice` stay in the state unchanged wherever the reply does not
rest on the evidence, so the survey metrics read what they always read.
"""

from __future__ import annotations

import math
from typing import Any

from manyshores.answers.chat_phrases import chat_estimate_reply
from manyshores.answers.compose import Reply, no_evidence_reply, survey_reply
from manyshores.answers.option_reply import (
    OptionLead,
    culture_needed_reply,
    estimate_reply,
    option_reply,
    survey_scale_share,
)
from manyshores.answers.yours import topic_label
from manyshores.components import Components
from manyshores.components.expert_backend import SURVEY_MEMORY_ID
from manyshores.state import CultureState, EvidenceRecord, ExpertAnswer, Source, culture_in_play

EXPERT_WEIGHT = 0.0
"""Exponent of the experts' distribution in the product with the evidence's, for everyday
options. Measured on the tuning part of BLEnD multiple choice (`manyshores eval blend-mc`,
docs/evidence.md): the shipped survey experts alone pick right 0.24 (chance 0.25), and every
weight above 0 lowered the evidence's 0.665 (0.25: 0.653, 1: 0.624), so they do not count."""


CHAT_PREFIX = "chat:"
"""Expert ids of a chat model's option probabilities (`experts.routing.chat_choices`)."""


def from_survey_memory(answers: list[ExpertAnswer]) -> bool:
    """True when the distribution is survey memory's: the cultures' known shares (a chat
    model's option probabilities may have joined them, by their calibrated weight)."""
    own = [a for a in answers if not a["expert_id"].startswith(CHAT_PREFIX)]
    return bool(own) and all(a["expert_id"] == SURVEY_MEMORY_ID for a in own)


def _mixed(answers: list[ExpertAnswer]) -> list[float]:
    """The answers' distributions mixed by weight (empty when none has one)."""
    scored = [a for a in answers if a["option_probs"]]
    total = sum(a["weight"] for a in scored)
    if not scored or total <= 0:
        return []
    n = len(scored[0]["option_probs"] or [])
    return [sum(a["weight"] * (a["option_probs"] or [])[i] for a in scored) / total
            for i in range(n)]  # fmt: skip


def by_chat(answers: list[ExpertAnswer], probs: list[float]) -> bool:
    """The distribution is the chat model's own (no survey answers were known to join it)."""
    chat = _mixed([a for a in answers if a["expert_id"].startswith(CHAT_PREFIX)])
    return len(chat) == len(probs) > 0 and max(abs(a - b) for a, b in zip(chat, probs)) < 1e-9


def _with_chat(probs: list[float], answers: list[ExpertAnswer], weight: float) -> list[float]:
    """The evidence's option scores times the chat model's distribution**weight (its
    calibrated everyday weight, `survey.chat_calibration`; 0: the evidence alone)."""
    chat = _mixed([a for a in answers if a["expert_id"].startswith(CHAT_PREFIX)])
    if weight <= 0 or len(chat) != len(probs):
        return probs
    logs = [math.log(max(e, 1e-9)) + weight * math.log(max(x, 1e-9))
            for e, x in zip(probs, chat, strict=True)]  # fmt: skip
    top = max(logs)
    exp = [math.exp(v - top) for v in logs]
    return [v / sum(exp) for v in exp]


SURVEY_OPTIONS = 0.5
"""A question whose options are at least this share a survey's answer wordings ("Very
important", "Agree", "1" … "10") stays a survey question whatever people said."""


def everyday(found: Any) -> bool:
    """Survey memory's gate let the question through, but it is an everyday one: people of the
    culture named some of its options to questions like it (and they are no survey's scale).
    The gate compares a question with the survey's, options included: "What job do parents hope
    their children will have? Options: civil servant, …" came out close to "Do you agree that
    when a mother works for pay, the children suffer?", whose shares mean nothing for jobs."""
    return bool(found.informative and found.people_said)


def _combined(evidence: list[float], experts: list[float]) -> list[float]:
    if EXPERT_WEIGHT <= 0 or len(experts) != len(evidence):
        return list(evidence)
    logs = [math.log(max(e, 1e-9)) + EXPERT_WEIGHT * math.log(max(x, 1e-9))
            for e, x in zip(evidence, experts, strict=True)]  # fmt: skip
    top = max(logs)
    exp = [math.exp(v - top) for v in logs]
    return [v / sum(exp) for v in exp]


def asked_question(state: Any) -> str:
    """The option question as aggregate and the expert node score it."""
    return state["task"]["question"].strip() or state.get("query") or state["text"]


def experts_not_needed(state: Any, components: Components) -> str | None:
    """Why the culture experts of an option question need not run, or None when they may count.

    On an everyday question (no survey scale) whose options people's answers inform, the reply
    is the evidence's scores times the experts' distribution to the power `EXPERT_WEIGHT`, which
    is 0: they would change nothing and cost a second or more a turn. Scored here as aggregate
    scores it (the same question, culture and language), so the reply is the same either way."""
    options = state["task"]["options"]
    posterior = state["posterior"]
    if EXPERT_WEIGHT > 0 or components.settings.always_run_option_experts:
        return None
    if not options or not culture_in_play(posterior):
        return None
    if survey_scale_share(options) >= SURVEY_OPTIONS:
        return None
    culture = posterior["cultures"][0]["id"]
    found = components.get_evidence().score_options(
        asked_question(state), culture, options, language=state.get("language") or "en"
    )
    if not found.informative:
        return None
    return "culture experts not run: people's answers score these everyday options"


def _reply_fields(reply: Reply) -> dict[str, Any]:
    return {"answer": reply.text, "short": reply.short, "answers": reply.answers}


def answer_options(state: CultureState, components: Components, lang: str) -> dict[str, Any]:
    """The update of aggregate for an option question (see the module docstring)."""
    task = state["task"]
    options = task["options"]
    answers = state.get("expert_answers", [])
    _, probs, choice, disagreement, notes = components.get_experts().aggregate(answers, task)
    if not state.get("experts"):
        notes = []  # none was chosen: the reply below says why
    kept: dict[str, Any] = {
        "option_probs": probs,
        "choice": choice,
        "disagreement": disagreement,
        "wording": "none",
        "confidence": None,
    }
    posterior = state["posterior"]
    if not culture_in_play(posterior):
        note = "no culture in play: the answer depends on one (no shares, no pick)"
        return {**kept, **_reply_fields(culture_needed_reply(lang)), "notes": [*notes, note]}
    culture = posterior["cultures"][0]["id"]
    name = topic_label(culture, posterior, lang)
    question = asked_question(state)
    scored: list[Any] = []

    def evidence() -> Any:
        # Scored once, and only when needed: a survey turn does not wait for the index.
        if not scored:
            scored.append(
                components.get_evidence().score_options(question, culture, options, language=lang)
            )
        return scored[0]

    scale = survey_scale_share(options) >= SURVEY_OPTIONS
    if probs and from_survey_memory(answers) and (scale or not everyday(evidence())):
        # The shares a survey measured (a chat model that joined moves `option_probs` and
        # `choice`, by its calibrated weight, not the percentages people gave).
        own = [a for a in answers if not a["expert_id"].startswith(CHAT_PREFIX)]
        reply = survey_reply(name, options, _mixed(own) or probs, lang, basis="similar")
        return {**kept, **_reply_fields(reply), "notes": notes}
    # A survey's scale is not something people name: their everyday answers say nothing of it.
    found = None if scale else evidence()
    if found is None or not found.informative:
        reply = (
            (chat_estimate_reply if by_chat(answers, probs) else estimate_reply)(
                name, options, probs, lang
            )
            if probs
            else no_evidence_reply(name, None, lang)
        )
        why = found.notes if found is not None else ["a survey's scale: no everyday evidence"]
        return {**kept, **_reply_fields(reply), "notes": [*notes, *why]}
    final = _combined(found.probs, probs)
    chat_calibration = getattr(components.get_experts(), "chat_calibration", None)
    if chat_calibration is not None:
        final = _with_chat(final, answers, chat_calibration().everyday_weight)
    best = max(range(len(final)), key=lambda i: (final[i], -i))
    sources = _with_sources(found.sources, state.get("sources", []))
    basis = found.bases[best]
    lead = None
    if basis is not None:
        cite = next((i for i, s in enumerate(sources, start=1) if s["ref"] == basis.ref), None)
        lead = OptionLead(basis.question, basis.answer, basis.same, cite)
    reply = option_reply(name, options, final, lead, lang)
    record = _record(culture, found, final, reply.answers, options)
    return {
        **_reply_fields(reply),
        "option_probs": final,
        "choice": best,
        "disagreement": disagreement,
        "wording": "related",  # people answered other questions, which the reply names
        "confidence": round(final[best], 4),
        "evidence": [record],
        "sources": sources,
        "notes": [*notes, *found.notes],
    }


def _with_sources(found: list[Source], retrieved: list[Source]) -> list[Source]:
    """The rows the options were matched to, then the retrieved passages not among them."""
    refs = {s["ref"] for s in found}
    return [*found, *(s for s in retrieved if s["ref"] not in refs)]


def _record(
    culture: str, found: Any, probs: list[float], shown: list[str], options: list[str]
) -> EvidenceRecord:
    """The trace's view: the options as candidates, most likely first, each with the answer
    people gave that it was matched to."""
    order = sorted(range(len(options)), key=lambda i: (-probs[i], i))
    candidates = []
    for i in order:
        b = found.bases[i]
        candidates.append(
            {
                "text": options[i],
                "english": options[i],
                "score": round(probs[i], 4),
                "support": 0,
                "refs": [b.ref] if b else [],
                "question": b.question if b else "",
                "similarity": round(b.similarity, 4) if b else 0.0,
                "said": b.answer if b else "",
                "same": bool(b and b.same),
                "features": found.features[i] if found.features else {},
                "used": options[i] in shown,
            }
        )
    return {
        "culture": culture,
        "usable": True,
        "similarity": round(found.similarity, 4),
        "candidates": candidates,
        "notes": list(found.notes),
        "wording": "related",
        "confidence": round(probs[order[0]], 4),
    }
