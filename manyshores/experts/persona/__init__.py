"""Persona experts: a culture-describing system prompt; no weights, no training."""

from manyshores.experts.persona.config import PersonaConfig
from manyshores.experts.persona.model import PersonaExpert

__all__ = ["PersonaConfig", "PersonaExpert"]
