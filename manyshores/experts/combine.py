"""Combining expert answers: option mixtures, the cultures' known answers, free text.

Which experts answer is decided in `experts.routing`; this module only combines what they said.

API for graph nodes:
    aggregate_options(answers, ordinal=True) -> (probs, choice, disagreement)
    known_answers_mixture(answers, floor) -> probs | None
    aggregate_text(answers) -> (text, disagreement)
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from manyshores.survey.decision import argmax, expected_position_choice, mixture

if TYPE_CHECKING:
    from manyshores.state import ExpertAnswer, KnownAnswers


def entropy(p: list[float]) -> float:
    return -sum(x * math.log2(x) for x in p if x > 0)


def aggregate_options(
    answers: list[ExpertAnswer], ordinal: bool = True
) -> tuple[list[float], int, float]:
    """Router-weighted mixture of the experts' distributions.

    Returns (probs, choice, disagreement): the choice is the option nearest the expected position
    on ordinal scales (it minimises the expected squared distance), else the most probable one;
    disagreement is the generalised Jensen-Shannon divergence of the experts around the mixture,
    in bits (0 when they agree).
    """
    scored = [a for a in answers if a["option_probs"]]
    if not scored:
        raise ValueError("no answer carries an option distribution")
    dists = [list(a["option_probs"] or []) for a in scored]
    weights = [max(a["weight"], 0.0) for a in scored]
    if sum(weights) <= 0:
        weights = [1.0] * len(scored)
    total = sum(weights)
    probs = mixture(dists, weights)
    spread = entropy(probs) - sum(
        w / total * entropy(d) for w, d in zip(weights, dists, strict=True)
    )
    choice = expected_position_choice(probs) if ordinal else argmax(probs)
    return probs, choice, max(0.0, spread)


def known_answers_mixture(answers: list[ExpertAnswer], floor: float | None) -> list[float] | None:
    """The answers' cultures' known answers (`ExpertAnswer.survey_memory`) mixed by answer
    weight, as `survey.decision.memory_lookup` mixes cultures; None when no culture's answers
    are known, or when the closest known question is less similar than `floor` (the question
    is then no survey question)."""
    found: list[tuple[KnownAnswers, float]] = []
    for answer in answers:
        known = answer.get("survey_memory")
        if known is not None:
            found.append((known, answer["weight"]))
    if not found or (floor is not None and max(k["similarity"] for k, _ in found) < floor):
        return None
    return mixture([k["probs"] for k, _ in found], [w for _, w in found])


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _overlap(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def aggregate_text(answers: list[ExpertAnswer]) -> tuple[str, float]:
    """Pick the answer the committee agrees with most (weighted word-overlap medoid).

    Disagreement is 1 minus the weighted mean overlap of the answers with the chosen one (0 when
    all experts said the same thing).
    """
    if not answers:
        return "", 0.0
    if len(answers) == 1:
        return answers[0]["text"], 0.0
    weights = [max(a["weight"], 1e-9) for a in answers]
    total = sum(weights)
    support = [
        sum(w * _overlap(a["text"], b["text"]) for w, b in zip(weights, answers, strict=True))
        for a in answers
    ]
    best = max(range(len(answers)), key=lambda i: (support[i], weights[i]))
    return answers[best]["text"], max(0.0, 1.0 - support[best] / total)
