"""The kind registry (peft `tuners/` style): kind name -> config class + expert class.

Every kind lives in its own folder (`softprompt/`, `lora/`, `persona/`) with `config.py` (a
dataclass of hyperparameters) and `model.py` (the expert: built from a manifest and tensors,
and told which tensor shapes a valid expert of this kind has on a given base model).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import ExpertStoreError, InvalidInputError

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


Trainer = Callable[..., tuple[dict[str, "torch.Tensor"], dict[str, Any]]]
"""(base, fit examples, val examples, config, progress) → (tensors to store, metrics)."""


@dataclass(frozen=True)
class KindCapabilities:
    """What an expert kind can do; each kind declares it once (`capabilities` on its expert
    class), and the committee, routing and training code read it instead of the kind's name."""

    shares_prefix: bool
    """It runs after the shared prompt's KV cache (its rows are embeddings appended to it), so
    any number of such experts cost one prefix pass."""
    mixed_batch: bool
    """Several experts of this kind can run in one batch (one graph task for all of them)."""
    on_lora_host: bool = False
    """It runs on the registry's PEFT copy of the base (`ExpertRegistry.lora_host()`)."""
    stored: bool = True
    """It has weights in the expert store (a persona is only a prompt)."""
    trainer: str | None = None
    """`module:function` of its `Trainer`, None when it cannot be trained."""

    def train(self) -> Trainer:
        if self.trainer is None:
            raise InvalidInputError("this kind of expert cannot be trained")
        module, _, name = self.trainer.partition(":")
        trainer: Trainer = getattr(importlib.import_module(module), name)
        return trainer


BASE_CAPABILITIES = KindCapabilities(shares_prefix=True, mixed_batch=True, stored=False)
"""The bare base model as an expert (id `base`): no rows of its own after the shared prefix."""


@dataclass
class KindSpec:
    """One registered kind."""

    name: str
    """Kind name used in manifests and on the command line."""
    config_cls: type
    """Dataclass of its hyperparameters."""
    expert_cls: Any
    """Expert class with `from_tensors(info, manifest, tensors)`, `expected_shapes(base, hp)` and
    `capabilities` (a `KindCapabilities`)."""

    @property
    def capabilities(self) -> KindCapabilities:
        caps: KindCapabilities = self.expert_cls.capabilities
        return caps


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


def kind_names() -> list[str]:
    """Every registered kind, sorted."""
    return sorted(_kinds())


def capabilities(kind: str) -> KindCapabilities:
    """The capabilities of a kind name (`base` included)."""
    return BASE_CAPABILITIES if kind == "base" else get_kind(kind).capabilities


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
