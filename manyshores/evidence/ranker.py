"""The candidate ranker: a linear score over a few features, softmax over one question's candidates.

The weights are learnt (`manyshores.evidence.fit`) and stored as a small JSON file in the package
data; `RankerModel.load()` reads it. The settings that shape the candidates (how many neighbour
questions, the similarity temperature) are stored with the weights they were fitted for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.errors import InvalidInputError

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "data" / "evidence" / "ranker.json"
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
cannot change their order under a softmax, so none is included.
"""


@dataclass
class RankerParams:
    """How candidates are gathered (chosen by question-fold cross-validation)."""

    neighbours: int = 5
    """Neighbour questions whose answers become candidates."""
    temperature: float = 0.05
    """Softmax temperature over neighbour similarities (the `wshare` weights)."""
    local_mix: float = 0.5
    """For a local-language question: weight of character n-gram similarity against the
    English-embedding similarity of its best character matches (pseudo-translation)."""
    min_similarity: float = 0.5
    """Evidence for an English question is `usable` when the closest question is at least this
    similar (embedding cosine)."""
    min_similarity_local: float = 0.3
    """The same for a local-language question (character n-gram scale, lower than cosine)."""
    l2: float = 0.001
    """L2 penalty on the weights while fitting."""


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

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probabilities over one question's candidates (rows of `x`)."""
        if len(x) == 0:
            return np.zeros(0, dtype=np.float64)
        z = x @ np.asarray(self.weights, dtype=np.float64)
        z = z - z.max()
        e = np.exp(z)
        return e / e.sum()

    @classmethod
    def load(cls, path: Path = PACKAGE_WEIGHTS) -> RankerModel:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            model = cls(
                weights=[float(w) for w in raw["weights"]],
                features=[str(f) for f in raw["features"]],
                params=RankerParams(**raw.get("params", {})),
                meta=dict(raw.get("meta", {})),
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
        data = {
            "features": self.features,
            "weights": [round(w, 6) for w in self.weights],
            "params": asdict(self.params),
            "meta": self.meta,
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


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
