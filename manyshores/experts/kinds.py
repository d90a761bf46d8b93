"""The kind registry (peft `tuners/` style): kind name -> config class + expert class.

Every kind lives in its own folder (`softprompt/`, `lora/`, `persona/`) with `config.py` (a
dataclass of hyperparameters) and `model.py` (the expert: built from a manifest and tensors,
and told which tensor shapes a valid expert of this kind has on a given base model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import ExpertStoreError

if TYPE_CHECKING:
    import torch

    from manyshores.experts.base_model import BaseModel
    from manyshores.experts.store import ExpertManifest


@dataclass
class ExpertInfo:
    """What the router needs to know about an available expert (no weights loaded)."""

    id: str
    """Expert id (directory name in the store, or `persona:<culture>`)."""
    culture: str
    """Culture id it speaks for; `*` for a joint expert."""
    kind: str
    """Registered kind name."""
    tasks: list[str] = field(default_factory=list)
    """Tasks it was trained for."""
    path: Path | None = None
    """Its store directory (None for personas)."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Validation / dev metrics from its manifest."""
    shipped: bool = False
    """Shipped inside the package (read-only) rather than in the user store."""


@dataclass
class KindSpec:
    """One registered kind."""

    name: str
    """Kind name used in manifests and on the command line."""
    config_cls: type
    """Dataclass of its hyperparameters."""
    expert_cls: Any
    """Expert class with `from_tensors(info, manifest, tensors)` and `expected_shapes(base, hp)`."""


def _kinds() -> dict[str, KindSpec]:
    from manyshores.experts.lora.config import LoraExpertConfig
    from manyshores.experts.lora.model import LoraExpert
    from manyshores.experts.persona.config import PersonaConfig
    from manyshores.experts.persona.model import PersonaExpert
    from manyshores.experts.softprompt.config import SoftPromptConfig
    from manyshores.experts.softprompt.model import SoftPromptExpert

    return {
        "softprompt": KindSpec("softprompt", SoftPromptConfig, SoftPromptExpert),
        "lora": KindSpec("lora", LoraExpertConfig, LoraExpert),
        "persona": KindSpec("persona", PersonaConfig, PersonaExpert),
    }


def get_kind(name: str) -> KindSpec:
    kinds = _kinds()
    if name not in kinds:
        raise ExpertStoreError(f"unknown expert kind {name!r}; known: {', '.join(sorted(kinds))}")
    return kinds[name]


def build_expert(
    base: BaseModel, info: ExpertInfo, manifest: ExpertManifest, tensors: dict[str, torch.Tensor]
) -> Any:
    """Instantiate an expert after checking its tensor shapes against the base model."""
    spec = get_kind(manifest.kind)
    expected = spec.expert_cls.expected_shapes(base, manifest.hyperparameters)
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    if expected is not None and shapes != expected:
        raise ExpertStoreError(
            f"expert {manifest.id!r} has tensors {shapes}, expected {expected} on this base model"
        )
    return spec.expert_cls.from_tensors(info, manifest, tensors)
