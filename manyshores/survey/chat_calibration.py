"""How much a configured chat model's option probabilities count, measured for that model.

A chat model (`MANYSHORES_CHAT_MODEL`) joins option questions as one more expert
(`runtime.chat_options`). Its weight is measured, never assumed: `manyshores experts calibrate
--chat-model` chooses `survey_weight`, its exponent in the product with survey memory
(`survey.decision.decide`), by question-fold cross-validation on WVS dev answers;
`manyshores eval blend-mc --part tuning --fit-chat` chooses `everyday_weight`, its exponent in
the product with the evidence's option scores (`nodes.options`), on the tuning part of BLEnD
multiple choice. Both are stored per model under the user's expert store
(`chat-models/<model>.json`); a model never measured gets weight 0 wherever survey memory or the
evidence answers (as an uncalibrated expert set does), and answers alone where neither does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from manyshores.errors import ExpertStoreError
from manyshores.survey.decision import read_json_object

CHAT_MODELS_DIR = "chat-models"
"""Under the user's expert store: one calibration file per chat model spec."""


@dataclass(frozen=True)
class ChatCalibration:
    """What one chat model's option probabilities weigh."""

    spec: str
    """The `provider:model` it was measured for."""
    survey_weight: float = 0.0
    """Exponent of the model's distribution in the product with survey memory (0: memory alone
    decides where it answers)."""
    everyday_weight: float = 0.0
    """Exponent of the model's distribution in the product with the evidence's option scores of
    an everyday question (0: the evidence alone decides where it is informative)."""
    base_url: str = ""
    """The server it was measured on (a model id alone may name different weights elsewhere)."""
    measured: dict[str, Any] = field(default_factory=dict)
    """What each weight was chosen on, and the held-out scores."""

    @property
    def calibrated(self) -> bool:
        return bool(self.measured)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChatCalibration:
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ExpertStoreError(f"chat calibration has unknown fields {sorted(unknown)}")
        cal = cls(**raw)
        if cal.survey_weight < 0 or cal.everyday_weight < 0:
            raise ExpertStoreError("chat calibration weights must be >= 0")
        return cal

    def with_measure(self, name: str, **values: Any) -> ChatCalibration:
        """A copy with `values` set and `measured[name]` recording them."""
        measured = {**self.measured, name: values.pop("measured", {})}
        return replace(self, **values, measured=measured)


def calibration_path(root: Path, spec: str) -> Path:
    """Where `spec`'s calibration lives under a store directory `root`."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_")[-60:]
    digest = hashlib.sha256(spec.encode()).hexdigest()[:8]
    return root / CHAT_MODELS_DIR / f"{slug}-{digest}.json"


def read_chat_calibration(root: Path, spec: str) -> ChatCalibration:
    """The stored calibration of `spec`, or the uncalibrated one (weights 0)."""
    path = calibration_path(root, spec)
    if not path.is_file():
        return ChatCalibration(spec)
    return ChatCalibration.from_dict(read_json_object(path, "chat calibration"))


def save_chat_calibration(root: Path, calibration: ChatCalibration) -> Path:
    path = calibration_path(root, calibration.spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(calibration), indent=1) + "\n")
    return path
