"""Survey alignment scores (defined in the WVS data README): spa, jsd_align, majority_acc.

All are computed per country over its questions; reports average them over countries.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from manyshores.survey.decision import argmax, expected_position_choice

__all__ = [
    "argmax",
    "country_scores",
    "expected_position_choice",
    "jsd",
    "score_wvs_predictions",
    "spa",
]

METRICS = ("spa", "jsd_align", "majority_acc")
"""The scores of every survey system, in report order."""


def jsd(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon divergence, log base 2 (in [0, 1])."""
    total = 0.0
    for a, b in zip(p, q, strict=True):
        m = (a + b) / 2
        if a > 0:
            total += 0.5 * a * math.log2(a / m)
        if b > 0:
            total += 0.5 * b * math.log2(b / m)
    return max(0.0, total)


def spa(choices: Sequence[int], truths: Sequence[Sequence[float]]) -> float:
    """CultureSPA alignment: 1 - ||m - g||_2 / ||n - 1||_2 over a country's questions."""
    num = sum((m - argmax(g)) ** 2 for m, g in zip(choices, truths, strict=True))
    den = sum((len(g) - 1) ** 2 for g in truths)
    return 1.0 - math.sqrt(num) / math.sqrt(den) if den else float("nan")


def country_scores(
    probs: Sequence[Sequence[float]],
    truths: Sequence[Sequence[float]],
    choices: Sequence[int | None] | None = None,
) -> dict[str, float]:
    """spa, jsd_align and majority_acc of one country's predictions (aligned lists)."""
    picks = [
        c if c is not None else argmax(p)
        for c, p in zip(choices or [None] * len(probs), probs, strict=True)
    ]
    n = len(truths)
    return {
        "spa": spa(picks, truths),
        "jsd_align": 1.0 - sum(jsd(p, g) for p, g in zip(probs, truths, strict=True)) / n,
        "majority_acc": sum(argmax(p) == argmax(g) for p, g in zip(probs, truths, strict=True)) / n,
    }


def score_wvs_predictions(
    records: list[dict[str, Any]], data: dict[str, dict[str, list[float]]]
) -> dict[str, Any]:
    """`{system: {"countries": {country: scores}, "mean": scores}}`."""
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        grouped[r["system"]][r["country"]].append(r)
    report: dict[str, Any] = {}
    for system, by_country in grouped.items():
        per: dict[str, dict[str, float]] = {}
        for country, recs in sorted(by_country.items()):
            recs = sorted(recs, key=lambda r: r["qid"])
            per[country] = country_scores(
                [r["probs"] for r in recs],
                [data[country][r["qid"]] for r in recs],
                [r.get("choice") for r in recs],
            )
        mean = {m: sum(s[m] for s in per.values()) / len(per) for m in METRICS}
        report[system] = {"countries": per, "mean": mean}
    return report
