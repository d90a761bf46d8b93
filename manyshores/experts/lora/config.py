"""Hyperparameters of a LoRA expert."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoraExpertConfig:
    """LoRA on the attention projections, trained with the survey soft-label objective."""

    r: int = 4
    """Rank of the update."""
    alpha: int = 8
    """Scaling numerator (scale = alpha / r)."""
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    """Module names that get adapters."""
    epochs: int = 2
    """Maximum passes over the training questions."""
    lr: float = 1e-3
    """AdamW learning rate."""
    patience: int = 1
    """Epochs without validation improvement before stopping."""
    val_fraction: float = 0.15
    """Share of training questions held out for early stopping."""
    seed: int = 0
    """Seed for initialisation and order."""
