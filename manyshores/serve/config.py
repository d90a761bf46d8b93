"""Limits and keys of the HTTP server, read from `MANYSHORES_*` variables or CLI options."""

from __future__ import annotations

import os
from dataclasses import dataclass

THREAD_HEADER = "X-Manyshores-Thread"
"""Request header naming the conversation (else `metadata.thread_id`); echoed in responses."""


@dataclass(frozen=True)
class ServeConfig:
    """How `manyshores serve` guards one warm model process."""

    model_name: str = "manyshores"
    """The model id `GET /v1/models` lists and responses carry."""
    api_keys: tuple[str, ...] = ()
    """Accepted bearer tokens; empty: no authentication (a local or already-guarded server)."""
    max_body_bytes: int = 1_000_000
    """Larger request bodies get 413 before they are parsed."""
    request_timeout_s: float = 300.0
    """A request whose turn has not finished by then gets 504 (a turn not yet started is
    dropped; one under way still finishes and is stored in its thread)."""
    max_queue: int = 16
    """Turns running or waiting for the model at once; one more gets 429 with Retry-After."""
    workers: int = 1
    """Turns run at once (of different conversations). 1 for the in-process engine, whose one
    model serves one turn at a time; more with a serving engine (vLLM), which batches them."""

    @classmethod
    def from_env(cls, **overrides: object) -> ServeConfig:
        """Keys from `MANYSHORES_API_KEYS` (comma-separated); explicit overrides win."""
        keys = tuple(k.strip() for k in os.environ.get("MANYSHORES_API_KEYS", "").split(",") if k)
        values: dict[str, object] = {"api_keys": tuple(k for k in keys if k)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
