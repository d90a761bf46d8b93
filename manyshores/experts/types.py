"""What the router and the kinds share about an expert: `ExpertInfo` and `KindCapabilities`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError

if TYPE_CHECKING:
    import torch


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
