"""Hyperparameters of a soft-prompt expert."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SoftPromptConfig:
    """Prompt tuning placed after the shared context, just before the answer slot."""

    num_virtual_tokens: int = 8
    """Learned embedding vectors inserted before the answer."""
    init_text: str = "Most people in my country would answer with the letter"
    """Text whose token embeddings initialise the virtual tokens (cycled to length)."""
    epochs: int = 4
    """Maximum passes over the training questions."""
    lr: float = 1e-2
    """AdamW learning rate on the virtual-token embeddings."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    patience: int = 1
    """Epochs without validation improvement before stopping."""
    val_fraction: float = 0.15
    """Share of training questions held out for early stopping (split by question)."""
    seed: int = 0
    """Seed for initialisation, the validation split and the question order."""
