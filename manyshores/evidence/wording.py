"""How an evidence reply is worded, and how sure its lead answer is.

- `answer`: the closest bank question *is* the asked one (`MatchRule`): "People in X answered
  this question: A". Its own answers lead, most given first, unless the ranker is confident
  otherwise (`WordingModel.override`).
- `related`: people answered a different question: "I have no answers to exactly this for X.
  Asked '<that question>', people there most often said A".
- `none`: nothing usable (`Evidence.usable` false): the reply says there is no information.

`confidence` is the chance that the lead answer is right, calibrated per language group
(`Calibration`): isotonic regression of the ranker's own chance for its lead, fitted on
training questions each asked of a bank without their fold's ids, then shifted on the logit
scale by one number fitted on the tuning part of the evaluation half (a bank of every other
training id answers more questions right than a fold's smaller one).

Both are fitted by `python -m manyshores.evidence.fit_wording` and stored in
`data/evidence/wording.json` beside the ranker, with the fingerprint of the bank they were
fitted for.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from manyshores.errors import InvalidInputError
from manyshores.evidence.match import MATCH_FEATURES
from manyshores.evidence.ranker import TreeEnsemble
from manyshores.paths import PACKAGE_EVIDENCE

PACKAGE_WORDING = PACKAGE_EVIDENCE / "wording.json"
"""The fitted match rule and confidence calibration shipped in the package."""

Wording = Literal["answer", "related", "none"]
WORDINGS: tuple[Wording, ...] = ("answer", "related", "none")


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass
class GroupRule:
    """The match rule of one language group: a logistic regression over standardised
    features, or small trees where a linear rule cannot tell word-for-word wording from the
    merely similar."""

    features: list[str]
    """Which of `MATCH_FEATURES` it reads, in order."""
    threshold: float
    """Probability at and above which the reply is worded `answer`."""
    weights: list[float] = field(default_factory=list)
    """Logistic weights, one per feature (empty for trees)."""
    bias: float = 0.0
    """Logistic intercept."""
    mean: list[float] = field(default_factory=list)
    """Feature means the weights apply to."""
    scale: list[float] = field(default_factory=list)
    """Feature standard deviations."""
    trees: TreeEnsemble | None = None
    """Gradient-boosted trees (log-odds), used instead of the weights when present."""

    def __post_init__(self) -> None:
        self._columns = [MATCH_FEATURES.index(f) for f in self.features]

    def probability(self, row: np.ndarray) -> float:
        """Probability that the closest question is the asked one (`row`: `MATCH_FEATURES`)."""
        x = np.asarray(row, dtype=np.float64)[self._columns]
        if self.trees is not None:
            return _sigmoid(float(self.trees.predict(x[None, :])[0]))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return _sigmoid(float(z @ np.asarray(self.weights)) + self.bias)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"features": self.features, "threshold": round(self.threshold, 4)}
        if self.trees is not None:
            out["trees"] = self.trees.to_json()
        else:
            out |= {
                "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6),
                "mean": [round(v, 6) for v in self.mean],
                "scale": [round(v, 6) for v in self.scale],
            }
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GroupRule:
        features = [str(f) for f in raw["features"]]
        unknown = [f for f in features if f not in MATCH_FEATURES]
        if unknown:
            raise ValueError(f"unknown match features {unknown}")
        rule = cls(
            features=features,
            threshold=float(raw["threshold"]),
            weights=[float(w) for w in raw.get("weights", [])],
            bias=float(raw.get("bias", 0.0)),
            mean=[float(v) for v in raw.get("mean", [])],
            scale=[float(v) for v in raw.get("scale", [])],
            trees=TreeEnsemble.from_json(raw["trees"]) if raw.get("trees") else None,
        )
        if rule.trees is None and not (
            len(rule.weights) == len(rule.mean) == len(rule.scale) == len(features)
        ):
            raise ValueError("weights and features differ in length")
        if rule.trees is not None and any(f >= len(features) for f in rule.trees.feature):
            raise ValueError("tree feature index out of range")
        return rule


@dataclass
class Calibration:
    """The chance that a lead answer is right, from the ranker's own chance for it."""

    x: list[float]
    """Ranker chances at the isotonic fit's breakpoints (increasing)."""
    y: list[float]
    """Share of right leads at each breakpoint (non-decreasing)."""
    shift: float = 0.0
    """Added on the logit scale after the isotonic map (fitted on the tuning part)."""

    def __call__(self, chance: float) -> float:
        p = float(np.interp(chance, self.x, self.y)) if self.x else chance
        return round(_sigmoid(_logit(p) + self.shift), 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "x": [round(v, 5) for v in self.x],
            "y": [round(v, 5) for v in self.y],
            "shift": round(self.shift, 4),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Calibration:
        x = [float(v) for v in raw["x"]]
        y = [float(v) for v in raw["y"]]
        if len(x) != len(y) or any(b < a for a, b in zip(x, x[1:], strict=False)):
            raise ValueError("calibration breakpoints must be increasing and paired")
        if any(b < a - 1e-9 for a, b in zip(y, y[1:], strict=False)):
            raise ValueError("calibration must not fall")
        return cls(x, y, float(raw.get("shift", 0.0)))


@dataclass
class WordingModel:
    """The match rule and the calibration of each language group (`en`, `local`)."""

    rules: dict[str, GroupRule]
    """Group → match rule."""
    calibration: dict[str, Calibration]
    """Group → confidence of a lead answer."""
    same_right: dict[str, float] = field(default_factory=lambda: {"en": 0.95, "local": 0.95})
    """Group → share of right leads when the asked question is the bank question (its own top
    answer leads): measured on the evaluation half asked of the bank that holds it."""
    override: float = 0.3
    """The ranker's lead stays ahead of the matched question's own top answer when its
    confidence is at least this much higher."""
    meta: dict[str, Any] = field(default_factory=dict)
    """How it was fitted (bank fingerprint, data, measured figures)."""

    def match_probability(self, row: np.ndarray, group: str) -> float:
        rule = self.rules.get(group)
        return 0.0 if rule is None else rule.probability(row)

    def is_match(self, probability: float, group: str) -> bool:
        rule = self.rules.get(group)
        return rule is not None and probability >= rule.threshold

    def confidence(self, chance: float, group: str, match: float | None = None) -> float:
        """The lead's chance of being right: the calibrated ranker chance, and for a lead that
        is the matched question's own top answer, mixed with how often such leads are right
        (`match`: the rule's probability that the question is the same)."""
        cal = self.calibration.get(group)
        p = cal(chance) if cal is not None else round(chance, 4)
        if match is None:
            return p
        same = self.same_right.get(group, 0.95)
        return round(match * same + (1 - match) * p, 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(MATCH_FEATURES),
            "rules": {g: r.to_json() for g, r in self.rules.items()},
            "calibration": {g: c.to_json() for g, c in self.calibration.items()},
            "same_right": {g: round(v, 4) for g, v in self.same_right.items()},
            "override": self.override,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> WordingModel:
        return cls(
            rules={str(g): GroupRule.from_json(r) for g, r in raw["rules"].items()},
            calibration={str(g): Calibration.from_json(c) for g, c in raw["calibration"].items()},
            same_right={str(g): float(v) for g, v in raw.get("same_right", {}).items()},
            override=float(raw.get("override", 0.3)),
            meta=dict(raw.get("meta", {})),
        )

    @classmethod
    def load(cls, path: Path = PACKAGE_WORDING) -> WordingModel | None:
        """The stored model; None when there is no file (replies are then worded `related`
        and carry the ranker's uncalibrated chance)."""
        if not path.is_file():
            return None
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"{path}: not a wording model: {exc}: refit with "
                "`python -m manyshores.evidence.fit_wording`"
            ) from exc

    def save(self, path: Path = PACKAGE_WORDING) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
