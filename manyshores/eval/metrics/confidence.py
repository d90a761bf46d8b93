"""How well replies' wording and confidence hold up: calibration of the lead's confidence,
accuracy by wording, and the reliability diagram.

A reply that leads with an answer is worded `answer` (people answered this very question) or
`related` (they answered another, named question); its `confidence` is the calibrated chance
that the lead is right. Calibration is measured per language as the expected calibration error
over 10 equal-width confidence bins: the share-weighted gap between each bin's mean confidence
and the share of its leads that are right.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BINS = 10
"""Equal-width confidence bins."""


@dataclass(frozen=True)
class Judged:
    """One reply's lead, as scored."""

    language: str
    """`en` or `local` (the language the question was asked in)."""
    wording: str
    """`answer`, `related` or `none`."""
    confidence: float | None
    """The reply's confidence in its lead (None: it has no lead)."""
    right: bool
    """The lead is right (BLEnD's matching)."""
    named: bool = True
    """A `related` reply names the question people answered."""


def expected_calibration_error(
    confidence: Sequence[float], right: Sequence[bool], bins: int = BINS
) -> float:
    """Share-weighted |mean confidence − share right| over `bins` equal-width bins."""
    c = np.asarray(confidence, dtype=np.float64)
    r = np.asarray(right, dtype=np.float64)
    if not len(c):
        return 0.0
    which = np.minimum((c * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(c[inside].mean() - r[inside].mean())
    return float(total)


def reliability(
    confidence: Sequence[float], right: Sequence[bool], bins: int = BINS
) -> list[dict[str, float]]:
    """Per non-empty bin: its range, mean confidence, share right and size."""
    c = np.asarray(confidence, dtype=np.float64)
    r = np.asarray(right, dtype=np.float64)
    which = np.minimum((c * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "confidence": round(float(c[inside].mean()), 4),
                    "right": round(float(r[inside].mean()), 4),
                    "n": int(inside.sum()),
                }
            )
    return out


WORDINGS = ("answer", "related", "generated", "none")
"""How a reply states its lead (`state.CultureState.wording`); `generated`: a chat model wrote it
from the evidence."""


def wording_report(judged: Iterable[Judged]) -> dict[str, Any]:
    """Per language: how many replies of each wording, the share of `answer` and of `related`
    leads that are right, calibration (ECE and the diagram's bins) over the replies that lead
    with an answer, and the share of `related` replies that name their question."""
    by_lang: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        by_lang[j.language].append(j)
    report: dict[str, Any] = {}
    for lang, rows in sorted(by_lang.items()):
        led = [
            j
            for j in rows
            if j.wording in ("answer", "related", "generated") and j.confidence is not None
        ]
        # `generated` is counted where a chat model wrote replies (runs without one keep the
        # three wordings of the evidence template).
        shown = [w for w in WORDINGS if w != "generated" or any(j.wording == w for j in rows)]
        entry: dict[str, Any] = {
            "replies": len(rows),
            "worded": {w: sum(j.wording == w for j in rows) for w in shown},
        }
        for w in [w for w in shown if w != "none"]:
            mine = [j for j in rows if j.wording == w]
            entry[f"{w}_right"] = (
                round(float(np.mean([j.right for j in mine])), 4) if mine else None
            )
        related = [j for j in rows if j.wording == "related"]
        entry["related_named"] = (
            round(float(np.mean([j.named for j in related])), 4) if related else None
        )
        conf = [float(j.confidence) for j in led if j.confidence is not None]
        right = [j.right for j in led]
        entry["ece"] = round(expected_calibration_error(conf, right), 4)
        entry["mean_confidence"] = round(float(np.mean(conf)), 4) if conf else None
        entry["lead_right"] = round(float(np.mean(right)), 4) if right else None
        entry["bins"] = reliability(conf, right)
        report[lang] = entry
    return report


def plot_reliability(report: dict[str, Any], path: Path, title: str = "") -> Path:
    """A reliability diagram (mean confidence per bin against the share right, one line per
    language, bin sizes as bars below) from `wording_report`'s output, written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    top.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    width = 1 / BINS / (len(report) + 1)
    for k, (lang, entry) in enumerate(report.items()):
        bins = entry["bins"]
        label = f"{lang} (ECE {entry['ece']:.3f}, {sum(b['n'] for b in bins)} leads)"
        top.plot([b["confidence"] for b in bins], [b["right"] for b in bins], "o-", label=label)
        bottom.bar([b["low"] + (k + 0.5) * width for b in bins], [b["n"] for b in bins], width,
                   label=lang)  # fmt: skip
    top.set_ylabel("share of leads right")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.legend(loc="upper left", fontsize=8)
    top.set_title(
        title or "Evidence replies: confidence of the lead against its accuracy", fontsize=9
    )
    bottom.set_xlabel("confidence (10 equal-width bins)")
    bottom.set_ylabel("leads")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
