"""The candidate ranker: a score per candidate from a few features, softmax over one question's
candidates.

The score is a small gradient-boosted tree ensemble over each candidate's features *and* how they
compare with the question's other candidates (`context_features`): whether an annotator share
matters depends on how close the best source question is, which a linear score cannot express
(question-fold cross-validation: lead 0.207 linear, 0.25 trees; `docs/evidence.md`). A linear
score over the plain features remains the fallback when no trees are stored.

Both are learnt (`manyshores.evidence.fit`) and stored as one small JSON file in the package
data; `RankerModel.load()` reads it, and scoring needs numpy only. The settings that shape the
candidates (how many neighbour questions, the similarity temperature) are stored with the model
they were fitted for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.errors import InvalidInputError
from manyshores.paths import PACKAGE_EVIDENCE

PACKAGE_WEIGHTS = PACKAGE_EVIDENCE / "ranker.json"
"""The fitted ranker shipped in the package."""

FEATURES = (
    "sim",
    "wshare",
    "share",
    "log_support",
    "top",
    "log_rank",
    "agreement",
    "prior",
    "specificity",
    "answer_fit",
)
"""Feature names, in the order of the weight vector (see `candidates.candidate_features`):
- `sim`: similarity of the candidate's most similar source question;
- `wshare`: annotator share, averaged over the neighbour questions with softmax(sim / T) weights;
- `share`: annotator share at its most similar source question;
- `log_support`: log(1 + annotators who gave it, over all neighbours);
- `top`: 1 when it is the most given answer of its most similar source question;
- `log_rank`: log(1 + its rank among that question's answers);
- `agreement`: log(1 + number of neighbour questions that gave it);
- `prior`: log(1 + number of the culture's questions whose answers include it);
- `specificity`: log-ratio of its frequency in this culture's answers to other cultures';
- `answer_fit`: cosine of the English answer's embedding with the question's (type fit: a sport
  for a sport question, a time for a time question).

A feature that is the same for every candidate of a question (how close the best neighbour is)
cannot change their order under a linear softmax, so none is included; the trees see them through
`context_features`.
"""


def context_features(x: np.ndarray) -> np.ndarray:
    """Each candidate's features, their gap to the question's best candidate on each, and those
    best values themselves (rows: candidates; 3 × `len(FEATURES)` columns)."""
    if len(x) == 0:
        return np.zeros((0, 3 * x.shape[1]), dtype=np.float64)
    top = x.max(axis=0, keepdims=True)
    return np.concatenate([x, x - top, np.repeat(top, len(x), axis=0)], axis=1)


@dataclass
class TreeEnsemble:
    """Gradient-boosted regression trees over `context_features`, all nodes in flat arrays.

    A node `i` is a leaf when `left[i] < 0`; otherwise rows with `x[feature[i]] <= threshold[i]`
    go to `left[i]`, the others to `right[i]` (indices into the same arrays)."""

    baseline: float
    """Score before any tree (the log-odds of a right candidate)."""
    roots: list[int]
    """Index of each tree's root node."""
    feature: list[int]
    """Column of `context_features` tested at each node (0 at leaves)."""
    threshold: list[float]
    """Split value at each node (0 at leaves)."""
    left: list[int]
    """Left child of each node, -1 at leaves."""
    right: list[int]
    """Right child of each node, -1 at leaves."""
    value: list[float]
    """What a leaf adds to the score (0 at inner nodes)."""
    depth: int
    """Longest path from a root to a leaf (how many steps scoring takes)."""

    def __post_init__(self) -> None:
        left = np.asarray(self.left, dtype=np.int64)
        right = np.asarray(self.right, dtype=np.int64)
        threshold = np.asarray(self.threshold, dtype=np.float64)
        # For scoring, a leaf points at itself whichever way a row goes: every row can take
        # the same number of steps with no test for having arrived.
        leaf = left < 0
        own = np.arange(len(left), dtype=np.int64)
        self._walk = (
            np.asarray(self.roots, dtype=np.int64),
            np.asarray(self.feature, dtype=np.int64),
            np.where(leaf, np.inf, threshold),
            np.where(leaf, own, left),
            np.where(leaf, own, right),
            np.asarray(self.value, dtype=np.float64),
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds) of the rows of `x`: every tree walked at once, level by level."""
        roots, feature, threshold, left, right, value = self._walk
        node = np.repeat(roots[None, :], len(x), axis=0)
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            go_left = x[rows, feature[node]] <= threshold[node]
            node = np.where(go_left, left[node], right[node])
        return self.baseline + value[node].sum(axis=1)

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": round(self.baseline, 6),
            "roots": self.roots,
            "feature": self.feature,
            "threshold": [round(t, 6) for t in self.threshold],
            "left": self.left,
            "right": self.right,
            "value": [round(v, 6) for v in self.value],
            "depth": self.depth,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TreeEnsemble:
        trees = cls(
            baseline=float(raw["baseline"]),
            roots=[int(i) for i in raw["roots"]],
            feature=[int(i) for i in raw["feature"]],
            threshold=[float(t) for t in raw["threshold"]],
            left=[int(i) for i in raw["left"]],
            right=[int(i) for i in raw["right"]],
            value=[float(v) for v in raw["value"]],
            depth=int(raw["depth"]),
        )
        n = len(trees.feature)
        if not (
            len(trees.threshold) == len(trees.left) == len(trees.right) == len(trees.value) == n
        ):
            raise ValueError("tree arrays differ in length")
        if any(not 0 <= i < n for i in (*trees.roots, *(c for c in trees.left if c >= 0))):
            raise ValueError("tree node index out of range")
        if any(not 0 <= f < 3 * len(FEATURES) for f in trees.feature):
            raise ValueError("tree feature index out of range")
        return trees


@dataclass
class RankerParams:
    """How candidates are gathered (chosen by question-fold cross-validation)."""

    neighbours: int = 5
    """Neighbour questions whose answers become candidates."""
    temperature: float = 0.05
    """Softmax temperature over neighbour similarities (the `wshare` weights)."""
    local_mix: float = 0.5
    """For a local-language question: weight of character n-gram similarity against the
    English-embedding similarity of its pseudo-translation (`local_ridge`)."""
    local_ridge: float = 0.0
    """Ridge penalty of the map from a local-language question's character n-gram TF-IDF to the
    English question-embedding space, fitted on the culture's question pairs (its
    pseudo-translation); 0 keeps the earlier stand-in, the English vectors of its 3 best
    character matches."""
    local_translation_ridge: float = 0.0
    """Ridge penalty of the map from a local-language question's multilingual (e5) vector to
    the English question-embedding space (`multilingual`), fitted on the bank's question pairs;
    0, or no multilingual encoder in the process: the character map of `local_ridge`."""
    min_similarity: float = 0.5
    """Evidence for an English question is `usable` when the closest question is at least this
    similar (embedding cosine)."""
    min_similarity_local: float = 0.3
    """The same for a local-language question (character n-gram scale, lower than cosine)."""
    l2: float = 0.001
    """L2 penalty on the weights while fitting."""
    min_lead_chance: float = 0.0
    """Evidence is `usable` only when the trees give its lead answer at least this chance of
    being right (0: no gate). A close-enough question can still lend an answer to another
    topic (a holiday dish from a rainy-day question); such leads are right far less often than
    the trees' usual ones. Chosen by `fit` from cross-validated right/wrong answers withheld."""


@dataclass
class RankerModel:
    """Weights of the linear candidate score, with the settings they were fitted for."""

    weights: list[float]
    """One per feature in `features`."""
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    """Feature names, in weight order."""
    params: RankerParams = field(default_factory=RankerParams)
    """Candidate settings the weights belong to."""
    meta: dict[str, Any] = field(default_factory=dict)
    """How they were fitted (data fingerprint, folds, cross-validated accuracy)."""
    trees: TreeEnsemble | None = None
    """The tree score, used instead of the linear one when present."""

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probabilities over one question's candidates (rows of `x`)."""
        if len(x) == 0:
            return np.zeros(0, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if self.trees is not None:
            z = self.trees.predict(context_features(x))
        else:
            z = x @ np.asarray(self.weights, dtype=np.float64)
        z = z - z.max()
        e = np.exp(z)
        return e / e.sum()

    def chances(self, x: np.ndarray) -> np.ndarray | None:
        """Each candidate's chance of being right on its own (the trees' log-odds through a
        sigmoid; `score` compares candidates, this does not); None for the linear score."""
        if self.trees is None or len(x) == 0:
            return None
        z = self.trees.predict(context_features(np.asarray(x, dtype=np.float64)))
        return 1.0 / (1.0 + np.exp(-z))

    @classmethod
    def load(cls, path: Path = PACKAGE_WEIGHTS) -> RankerModel:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            model = cls(
                weights=[float(w) for w in raw["weights"]],
                features=[str(f) for f in raw["features"]],
                params=RankerParams(**raw.get("params", {})),
                meta=dict(raw.get("meta", {})),
                trees=TreeEnsemble.from_json(raw["trees"]) if raw.get("trees") else None,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}: not a ranker weights file: {exc}") from exc
        if model.features != list(FEATURES) or len(model.weights) != len(FEATURES):
            raise InvalidInputError(
                f"{path}: weights are for features {model.features}, this version uses "
                f"{list(FEATURES)}: refit with `python -m manyshores.evidence.fit`"
            )
        return model

    def save(self, path: Path = PACKAGE_WEIGHTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {
            "features": self.features,
            "weights": [round(w, 6) for w in self.weights],
            "params": asdict(self.params),
            "meta": self.meta,
        }
        text = json.dumps(data, indent=1)
        if self.trees is not None:
            # The node arrays on one line each: thousands of numbers, one per line, would
            # triple the file.
            arrays = ",\n  ".join(
                f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
                for k, v in self.trees.to_json().items()
            )
            text = f'{text[:-2]},\n "trees": {{\n  {arrays}\n }}\n}}'
        path.write_text(text + "\n", encoding="utf-8")


def fit_weights(
    groups: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    l2: float = 0.001,
    iterations: int = 400,
    lr: float = 0.05,
) -> np.ndarray:
    """Weights maximising the probability mass on right candidates (listwise softmax).

    `groups`: per question, the candidates' features (rows) and a 0/1 vector of which are
    right. Questions with no right candidate say nothing about the order and are skipped. The
    problem is convex and small: full-batch Adam over all questions at once (segment sums).
    """
    usable = [(x, y) for x, y in groups if len(x) and np.asarray(y).any()]
    if not usable:
        raise InvalidInputError("no question with a right candidate to fit on")
    x = np.concatenate([g for g, _ in usable]).astype(np.float64)
    y = np.concatenate([np.asarray(t, dtype=bool) for _, t in usable])
    sizes = np.asarray([len(g) for g, _ in usable])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    seg = np.repeat(np.arange(len(usable)), sizes)
    n = len(usable)
    w = np.zeros(x.shape[1])
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iterations + 1):
        z = x @ w
        z = z - np.maximum.reduceat(z, starts)[seg]
        e = np.exp(z)
        p = e / np.add.reduceat(e, starts)[seg]
        pos = p * y
        q = pos / np.add.reduceat(pos, starts)[seg]  # posterior over the right candidates
        grad = (p - q) @ x / n + 2 * l2 * w
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        w -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return w


@dataclass
class TreeSettings:
    """Shape of the tree ensemble (chosen by question-fold cross-validation)."""

    iterations: int = 200
    """Boosting rounds (trees)."""
    learning_rate: float = 0.05
    """Shrinkage of each tree."""
    leaves: int = 31
    """Leaves per tree at most."""
    min_leaf: int = 80
    """Candidates per leaf at least (keeps the trees from memorising single questions)."""


INCREASING = frozenset({"sim", "wshare", "share", "log_support", "top", "agreement", "answer_fit"})
"""Features whose rise never makes a candidate less likely, all else equal (more annotators,
a closer source question, a better type fit)."""
DECREASING = frozenset({"log_rank"})
"""Features whose rise never makes a candidate more likely (a lower place in its question)."""


def monotonic_constraints() -> list[int]:
    """Per column of `context_features`: +1/-1 where the score must rise/fall with it (the
    candidate's own value and its gap to the best), 0 for the question's best values. Without
    them a few hundred questions leave corners where fewer annotators score higher."""
    own = [1 if f in INCREASING else -1 if f in DECREASING else 0 for f in FEATURES]
    return [*own, *own, *([0] * len(FEATURES))]


def fit_trees(
    groups: Sequence[tuple[np.ndarray, np.ndarray]], settings: TreeSettings | None = None
) -> TreeEnsemble:
    """Trees scoring each candidate's log-odds of being right (pointwise logistic loss over
    `context_features`), from the questions that have a right candidate.

    Fitting uses scikit-learn's histogram gradient boosting (installed with
    sentence-transformers); the fitted trees are copied into a `TreeEnsemble`, so scoring needs
    numpy only."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    t = settings or TreeSettings()
    usable = [(x, y) for x, y in groups if len(x) and np.asarray(y).any()]
    if not usable:
        raise InvalidInputError("no question with a right candidate to fit on")
    x = np.concatenate([context_features(np.asarray(g, dtype=np.float64)) for g, _ in usable])
    y = np.concatenate([np.asarray(v, dtype=bool) for _, v in usable])
    model = HistGradientBoostingClassifier(
        monotonic_cst=monotonic_constraints(),
        max_iter=t.iterations,
        learning_rate=t.learning_rate,
        max_leaf_nodes=t.leaves,
        min_samples_leaf=t.min_leaf,
        early_stopping=False,
        random_state=0,
    ).fit(x, y)
    return trees_from_sklearn(model)


def trees_from_sklearn(model: Any) -> TreeEnsemble:
    """A fitted binary `HistGradientBoostingClassifier` as a `TreeEnsemble` (numpy scoring)."""
    roots: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    depth = 0
    for (predictor,) in model._predictors:  # one tree per round for a binary target
        nodes = predictor.nodes
        base = len(feature)
        roots.append(base)
        for node in nodes:
            leaf = bool(node["is_leaf"])
            feature.append(0 if leaf else int(node["feature_idx"]))
            threshold.append(0.0 if leaf else float(node["num_threshold"]))
            left.append(-1 if leaf else base + int(node["left"]))
            right.append(-1 if leaf else base + int(node["right"]))
            value.append(float(node["value"]) if leaf else 0.0)
            depth = max(depth, int(node["depth"]))
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return TreeEnsemble(baseline, roots, feature, threshold, left, right, value, depth)
