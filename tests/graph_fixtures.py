"""Fixture helpers for graph tests: real components over the tiny model, isolated stores
(SQLite under the test's home, or a PostgreSQL database given as `checkpoint_url`)."""

from __future__ import annotations

from pathlib import Path

from manyshores.components import Components
from manyshores.config import Settings
from manyshores.graph.assistant import CultureAssistant
from manyshores.graph.checkpoints import open_settings_checkpointer


def tiny_components(base, home: Path, **settings_overrides) -> Components:
    """Real detector, knowledge base, experts and profiles; the tiny model as base."""
    settings_overrides.setdefault("tavily_api_key", None)  # never the developer's real key
    settings = Settings(home=home, **settings_overrides)
    return Components(settings=settings, base=base)


def tiny_assistant(base, home: Path, **settings_overrides) -> CultureAssistant:
    components = tiny_components(base, home, **settings_overrides)
    # SQLite in `home`, or PostgreSQL when the overrides carry a `checkpoint_url`.
    return CultureAssistant(components, open_settings_checkpointer(components.settings))
