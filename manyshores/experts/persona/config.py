"""Hyperparameters of a persona expert."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PersonaConfig:
    """The culture is named in the prompt; works over the base model or any chat model."""

    template: str = "Answer as a typical person from {name} would."
    """Instruction naming the culture, placed in the user turn after a survey question and its
    options (so that personas of different cultures share the question's KV cache)."""
    system_template: str = (
        "You are a helpful assistant who answers as a typical person from {name} would, "
        "following the customs and values of {name}."
    )
    """System prompt of its free-text answers."""
