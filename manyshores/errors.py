"""One exception family, so the CLI can turn any expected failure into one clear line."""

from __future__ import annotations


class ManyshoresError(Exception):
    """An expected failure with a message that tells the user what to do."""


class ModelLoadError(ManyshoresError):
    """The base model named by a spec could not be found, read or downloaded."""


class InvalidInputError(ManyshoresError):
    """A message, culture id, thread id or file the user gave is not usable."""


class ExpertStoreError(ManyshoresError):
    """An expert on disk is missing, corrupt, unsafe or made for another base model."""


class RetrievalError(ManyshoresError):
    """The knowledge base or web search could not be reached or read."""


class CheckpointStoreError(ManyshoresError):
    """The checkpoint and profile database (SQLite file or PostgreSQL server) is unusable."""
