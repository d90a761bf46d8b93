"""Combining expert answers: routing, option mixtures, nearest-expert fallbacks, free text.

API for graph nodes:
    route_experts(posterior, task, registry) -> list[ExpertChoice]
    aggregate_options(answers, ordinal=True) -> (probs, choice, disagreement)
    aggregate_text(answers) -> (text, disagreement)
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from manyshores.cultures import nearest_cultures
from manyshores.survey.decision import argmax, expected_position_choice, mixture

if TYPE_CHECKING:
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.state import CulturePosterior, ExpertAnswer, ExpertChoice, TaskInfo

EXPERT_MIN_CULTURE_P = 0.1
"""Cultures below this posterior get no expert of their own."""
EXPERT_MAX_CULTURES = 3
"""At most this many cultures of the posterior are served."""


def route_experts(
    posterior: CulturePosterior,
    task: TaskInfo | None,
    registry: ExpertRegistry,
    kind: str = "softprompt",
) -> list[ExpertChoice]:
    """Experts for the plausible cultures: their own expert, else their nearest cultures' experts
    weighted by similarity, else a persona. Weights sum to 1."""
    if posterior.get("unknown") or not posterior.get("cultures"):
        return [
            {
                "id": "base",
                "culture": "",
                "kind": "base",
                "weight": 1.0,
                "reason": "no culture detected",
            }
        ]
    picked = [c for c in posterior["cultures"] if c["p"] >= EXPERT_MIN_CULTURE_P][
        :EXPERT_MAX_CULTURES
    ]
    picked = picked or posterior["cultures"][:1]
    with_expert = registry.cultures(kind)
    weights: dict[str, float] = {}
    choices: dict[str, ExpertChoice] = {}
    for c in picked:
        own = registry.for_culture(c["id"], kind)
        if own is not None:
            targets = [(own.id, own.culture, c["p"], "posterior", own.kind)]
        elif with_expert:
            near = nearest_cultures(c["id"], with_expert)
            total = sum(s for _, s in near) or 1.0
            targets = []
            for culture, s in near:
                info = registry.for_culture(culture, kind)
                assert info is not None
                targets.append(
                    (info.id, culture, c["p"] * s / total, f"nearest to {c['id']}", info.kind)
                )
        else:
            targets = [
                (f"persona:{c['id']}", c["id"], c["p"], "posterior (no trained expert)", "persona")
            ]
        for eid, culture, w, reason, k in targets:
            weights[eid] = weights.get(eid, 0.0) + w
            choices.setdefault(
                eid, {"id": eid, "culture": culture, "kind": k, "weight": 0.0, "reason": reason}
            )
    total = sum(weights.values()) or 1.0
    out = []
    for eid, ch in choices.items():
        ch["weight"] = weights[eid] / total
        out.append(ch)
    return sorted(out, key=lambda c: -c["weight"])


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
