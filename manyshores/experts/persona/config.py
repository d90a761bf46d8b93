"""Hyperparameters of a persona expert."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PersonaConfig:
    """The culture is named in the prompt; works over the base model or any chat model."""

    template: str = "Answer as a typical person from {name} would."
    """Instruction naming the culture, placed in the user turn before the question."""
