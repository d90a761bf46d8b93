"""BLEnD scoring as BLEnD does it: correct when a human answer (local or English, any annotator)
occurs in the answer after normalisation (lower-case, punctuation and articles stripped,
stemmed); accuracy per culture and system, the mean over cultures, paired differences."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from manyshores.textnorm import is_correct

if TYPE_CHECKING:
    from manyshores.eval.datasets.blend import BlendQuestion


COMPARISONS = (
    ("task_adapter_rag", "prompted"),
    ("task_adapter_rag", "base"),
    ("task_adapter", "prompted"),
    ("task_adapter_rag", "task_adapter"),
    ("task_adapter_rag", "rag"),
    ("rag", "prompted"),
    ("task_adapter", "joint_adapter"),
    ("task_adapter_rag", "joint_adapter_rag"),
)
"""System pairs the report compares question by question, when both ran."""


def paired_difference(a: dict[Any, bool], b: dict[Any, bool]) -> dict[str, Any] | None:
    """Accuracy of `a` minus `b` over the questions both answered, with its standard error.

    Paired (each question answered by both), so the error is that of the mean per-question
    difference: tighter than comparing two independent accuracies. |diff| / se above ~2 is
    unlikely to be noise."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return None
    diffs = [int(a[k]) - int(b[k]) for k in common]
    n = len(diffs)
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return {
        "diff": round(mean, 4),
        "se": round((var / n) ** 0.5, 4),
        "n": n,
        "a_only": sum(d > 0 for d in diffs),
        "b_only": sum(d < 0 for d in diffs),
    }


def score_blend_predictions(
    preds: Iterable[dict[str, Any]], questions: Sequence[BlendQuestion]
) -> dict[str, Any]:
    """Accuracy per system and culture, the mean over cultures, joint-vs-separate deltas, and
    paired differences between systems (`COMPARISONS`)."""
    by_key = {(q.culture, q.id): q for q in questions}
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    correct: dict[str, dict[tuple[str, str], bool]] = defaultdict(dict)
    for p in preds:
        q = by_key.get((str(p["culture"]), str(p["id"])))
        if q is None:
            continue
        hit = is_correct(str(p["answer"]), q.answers)
        correct[str(p["system"])][(q.culture, q.id)] = hit
        cell = totals[str(p["system"])][q.culture]
        cell[0] += int(hit)
        cell[1] += 1
    systems: dict[str, Any] = {}
    for system, per in totals.items():
        acc = {c: round(h / n, 4) for c, (h, n) in sorted(per.items()) if n}
        systems[system] = {
            "per_culture": acc,
            "n": {c: n for c, (_, n) in sorted(per.items())},
            "mean": round(sum(acc.values()) / len(acc), 4) if acc else 0.0,
        }
    report: dict[str, Any] = {"systems": systems}
    for sep, joint in (
        ("task_adapter", "joint_adapter"),
        ("task_adapter_rag", "joint_adapter_rag"),
    ):
        if sep in systems and joint in systems:
            a, b = systems[sep]["per_culture"], systems[joint]["per_culture"]
            common = sorted(set(a) & set(b))
            report.setdefault("separate_minus_joint", {})[sep] = {
                "per_culture": {c: round(a[c] - b[c], 4) for c in common},
                "mean": round(sum(a[c] - b[c] for c in common) / len(common), 4) if common else 0.0,
            }
    for a_sys, b_sys in COMPARISONS:
        paired = paired_difference(correct.get(a_sys, {}), correct.get(b_sys, {}))
        if paired is not None:
            report.setdefault("paired", {})[f"{a_sys} - {b_sys}"] = paired
    return report
