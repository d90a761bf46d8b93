"""Fit the everyday-option weights (`evidence.options.WEIGHTS`): `manyshores eval blend-mc --fit`.

Fitting data never includes the held-out part. Multiple choice is built (`build_mc`) from
- the training half of the ids, in `FIT_FOLDS` folds by id: each fold's items asked of a bank
  of the other training ids (no evaluation id in it), so an item's own question is never in the
  bank, as for a new question;
- the tuning part of the evaluation half (fold 0), asked of the bank of every training id.

The weights are fitted on the training-half items and scored on the tuning part (how they carry
to new ids), then refitted on both: those are the weights to ship.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.eval.datasets.blend_mc import TUNING_FOLD, McItem, build_mc
from manyshores.eval.runners.blend_mc import expected_calibration_error
from manyshores.evidence.bank import AnswerBank, fold_of, is_eval_id
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.options import FEATURES, SCALE, WEIGHTS, option_features
from manyshores.evidence.ranker import fit_weights

FIT_FOLDS = 4
"""Folds of the training half (by id)."""


def fitting_sets(full: AnswerBank) -> list[tuple[str, set[str], list[McItem]]]:
    """(name, bank ids, items) of every fitting set (see the module docstring)."""
    ids = {q.id for qs in full.questions.values() for q in qs}
    evaluation = {i for i in ids if is_eval_id(i)}
    training = ids - evaluation
    sets = []
    for f in range(FIT_FOLDS):
        part = {i for i in training if fold_of(i, FIT_FOLDS) == f}
        sets.append((f"train{f}", training - part, build_mc(full, part)))
    tuning = {i for i in evaluation if fold_of(i, 2) == TUNING_FOLD}
    sets.append(("tuning", training, build_mc(full, tuning)))
    return sets


Row = tuple[McItem, np.ndarray, float]
"""An item, its options' features (options × `FEATURES`) and its culture's closest question's
similarity."""


def feature_groups(
    full: AnswerBank, progress: Callable[[str], None] | None = None
) -> dict[str, list[Row]]:
    """Per fitting set, each item with its options' features and closest similarity."""
    out: dict[str, list[Row]] = {}
    for name, bank_ids, items in fitting_sets(full):
        index = EvidenceIndex.for_bank(full.restricted(bank_ids))
        rows = []
        for it in items:
            found = option_features(index, it.question, it.culture, list(it.options))
            if found is not None:
                sims = found[2][np.isfinite(found[2])]
                rows.append((it, found[0], float(sims.max(initial=0.0))))
        out[name] = rows
        if progress is not None:
            progress(f"{name}: {len(rows)} items")
    return out


def accuracy(rows: Sequence[Row], weights: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Share of items whose highest-scored option is the right one, overall and per culture."""
    w = np.asarray(weights, dtype=np.float64)
    per: dict[str, list[int]] = defaultdict(list)
    for it, x, _ in rows:
        z = x @ w
        per[it.culture].append(int(int(np.argmax(z)) == it.answer))
    acc = {c: round(sum(v) / len(v), 4) for c, v in sorted(per.items())}
    flat = [h for v in per.values() for h in v]
    return {
        "accuracy": round(sum(flat) / max(len(flat), 1), 4),
        "min_culture": min(acc.values()) if acc else 0.0,
        "per_culture": acc,
    }


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return np.asarray(e / e.sum())


def confidences(rows: Sequence[Row], weights: np.ndarray) -> list[tuple[float, int]]:
    """(probability of the highest-scored option, 1 when it is right) per item."""
    out = []
    for it, x, _ in rows:
        p = _softmax(x @ weights)
        out.append((float(p.max()), int(int(np.argmax(p)) == it.answer)))
    return out


def fit_scale(rows: Sequence[Row], weights: np.ndarray) -> float:
    """The factor on the weights that maximises the right options' likelihood over `rows`."""

    def loss(scale: float) -> float:
        return -sum(float(np.log(_softmax(scale * (x @ weights))[it.answer])) for it, x, _ in rows)

    return min((round(0.5 + 0.05 * i, 2) for i in range(51)), key=loss)


SIMILARITY_BINS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 1.01)
"""Bins of the closest question's similarity in `by_similarity`."""


def by_similarity(rows: Sequence[Row], weights: Sequence[float]) -> dict[str, Any]:
    """Items and the lead's accuracy per bin of the culture's closest question's similarity."""
    out: dict[str, Any] = {}
    for lo, hi in zip(SIMILARITY_BINS, SIMILARITY_BINS[1:], strict=False):
        part = [r for r in rows if lo <= r[2] < hi]
        if part:
            out[f"{lo:.2f}-{hi:.2f}"] = {"items": len(part), **accuracy(part, weights)}
            out[f"{lo:.2f}-{hi:.2f}"].pop("per_culture")
    return out


def fit_option_weights(
    data_dir: Path, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The fitted weights and what they score (see the module docstring)."""
    groups = feature_groups(AnswerBank.from_dir(data_dir), progress)
    training = [r for name, rows in groups.items() if name != "tuning" for r in rows]
    tuning = groups["tuning"]

    def fit(rows: Sequence[Row]) -> np.ndarray:
        return fit_weights(
            [(x, np.arange(len(x)) == it.answer) for it, x, _ in rows], l2=0.001, iterations=600
        )

    on_training = fit(training)
    final = fit([*training, *tuning])
    return {
        "features": list(FEATURES),
        "shipped": {
            "weights": list(WEIGHTS),
            "scale": SCALE,
            "tuning": accuracy(tuning, WEIGHTS),
            "tuning_ece": expected_calibration_error(
                confidences(tuning, SCALE * np.asarray(WEIGHTS))
            ),
            # Where to stop scoring: how often the lead is right by the closest similarity.
            "tuning_by_similarity": by_similarity(tuning, WEIGHTS),
        },
        "fitted_on_training_half": {
            "weights": [round(float(v), 4) for v in on_training],
            "training_half": accuracy(training, on_training)["accuracy"],
            "tuning": accuracy(tuning, on_training),
        },
        "fitted_on_both": {
            "weights": [round(float(v), 4) for v in final],
            # The training half's smaller banks make its items harder than a new question
            # meets: the weights come out under-confident there, so one scale is fitted on the
            # tuning part (the lead's likelihood; the order of the options does not change).
            "scale": fit_scale(tuning, final),
        },
        "items": {name: len(rows) for name, rows in groups.items()},
    }
