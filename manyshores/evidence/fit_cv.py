"""Cross-validation of the ranker's score over question folds (folds by id, the same in every
culture): lead and top-3 accuracy, per question's lead answer (`Lead`) for the gate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from manyshores.evidence.bank import fold_of
from manyshores.evidence.fit_groups import Group
from manyshores.evidence.ranker import (
    FEATURES,
    TreeSettings,
    context_features,
    fit_trees,
    fit_weights,
)

Scorer = Callable[[np.ndarray], np.ndarray]
"""Candidates' features (rows) → one score each (higher is better)."""


def accuracy(
    groups: Sequence[Group],
    w: np.ndarray | Scorer,
    top: int = 1,
) -> float:
    """Mean over cultures of the share of questions with a right answer in the top `top`
    (`w`: linear weights or a scorer)."""
    score: Scorer = w if callable(w) else (lambda x: x @ w)
    per: dict[str, list[bool]] = {}
    for _, culture, x, y, _ in groups:
        hit = bool(len(x)) and bool(y[np.argsort(-score(x), kind="stable")[:top]].any())
        per.setdefault(culture, []).append(hit)
    return float(np.mean([np.mean(v) for v in per.values()]))


class Lead(NamedTuple):
    """One cross-validated question's lead answer."""

    language: str
    """`en` or `local`."""
    culture: str
    """Culture asked about."""
    right: bool
    """The lead answer is right."""
    chance: float
    """The trees' chance of the lead answer being right (what `min_lead_chance` gates)."""
    top3: bool
    """One of the first three answers is right (what a withheld reply also loses)."""


def tree_scorer(train: Sequence[tuple[np.ndarray, np.ndarray]], trees: TreeSettings) -> Scorer:
    """The tree ensemble fitted on `train` (features, right-or-not per question) as a scorer."""
    ensemble = fit_trees(train, trees)
    return lambda x: ensemble.predict(context_features(x))


def cross_validate(
    groups: Sequence[Group],
    l2: float,
    folds: int,
    trees: TreeSettings | None = None,
    leads: list[Lead] | None = None,
) -> tuple[float, float]:
    """Lead and top-3 accuracy with the score fitted on the other folds (folds by question id):
    linear weights, or trees when `trees` is given. With trees, `leads` (when given) receives
    each question's `Lead`."""
    lead, top3 = [], []
    for f in range(folds):
        train = [(x, y) for qid, _, x, y, _ in groups if fold_of(qid, folds) != f]
        test = [g for g in groups if fold_of(g[0], folds) == f]
        if trees is None:
            scorer: np.ndarray | Scorer = fit_weights(train, l2=l2)
        else:
            scorer = tree_scorer(train, trees)
            if leads is not None:
                leads += _leads(test, scorer)
        lead.append(accuracy(test, scorer, 1))
        top3.append(accuracy(test, scorer, 3))
    return float(np.mean(lead)), float(np.mean(top3))


def _leads(test: Sequence[Group], scorer: Scorer) -> list[Lead]:
    """Each tested question's lead answer under `scorer`, with the chance the trees give it."""
    out = []
    for _, culture, x, y, lang in test:
        if len(x):
            z = scorer(x)
            order = np.argsort(-z, kind="stable")
            chance = float(1 / (1 + np.exp(-z[order[0]])))
            out.append(Lead(lang, culture, bool(y[order[0]]), chance, bool(y[order[:3]].any())))
    return out


def lead_by_language(leads: Sequence[Lead], language: str) -> float:
    """Lead accuracy (mean over cultures) of one language's questions alone."""
    per: dict[str, list[bool]] = {}
    for r in (r for r in leads if r.language == language):
        per.setdefault(r.culture, []).append(r.right)
    return float(np.mean([np.mean(v) for v in per.values()]))


def baseline_accuracy(groups: Sequence[Group], top: int = 1) -> float:
    """The same measure for the nearest question's answers in their own order (no learning)."""
    sim, rank = FEATURES.index("sim"), FEATURES.index("log_rank")
    return accuracy(groups, lambda x: 100.0 * x[:, sim] - x[:, rank], top)
