"""Limits and keys of the HTTP server, read from `MANYSHORES_*` variables or CLI options."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from manyshores.errors import InvalidInputError
from manyshores.serve.tenants import parse_api_keys

THREAD_HEADER = "X-Manyshores-Thread"
"""Request header naming the conversation (else `metadata.thread_id`); echoed in responses."""
REPLICA_HEADER = "X-Manyshores-Replica"
"""Response header naming the replica that answered (which one a balancer chose)."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Request header carrying the request id (else `metadata.request_id`)."""


def base_url(url: str) -> str:
    """A server's root from what a user may paste: `http://h:p`, `http://h:p/` or the
    `http://h:p/v1` that `manyshores serve` prints."""
    url = url.strip().rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _default_replica() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class ServeConfig:
    """How `manyshores serve` guards one warm model process."""

    model_name: str = "manyshores"
    """The model id `GET /v1/models` lists and responses carry."""
    api_keys: tuple[str, ...] = ()
    """Accepted bearer tokens, each `tenant:key` or a bare key (a tenant of its own; see
    `serve.tenants`); empty: no authentication (a local or already-guarded server)."""
    max_body_bytes: int = 1_000_000
    """Larger request bodies get 413 before they are parsed."""
    request_timeout_s: float = 300.0
    """A request whose turn has not finished by then gets 504 (a turn not yet started is
    dropped; one under way still finishes and is stored in its thread). A turn waiting for its
    conversation's previous turn (on any replica) waits at most this long too."""
    max_queue: int = 16
    """Turns running or waiting for the model at once; one more gets 429 with Retry-After."""
    workers: int = 1
    """Turns run at once (of different conversations). 1 for the in-process engine, whose one
    model serves one turn at a time; more with a serving engine (vLLM), which batches them."""
    drain_timeout_s: float = 60.0
    """On SIGTERM: how long turns under way may take to finish before the process exits anyway
    (a turn cut off then is completed by its thread's next call)."""
    replica: str = field(default_factory=_default_replica)
    """This process's name in the `X-Manyshores-Replica` header and `/healthz`."""

    @classmethod
    def from_env(cls, **overrides: object) -> ServeConfig:
        """Keys from `MANYSHORES_API_KEYS` (see `serve.tenants` for its forms), the replica's
        name from `MANYSHORES_REPLICA`; explicit overrides win."""
        try:
            keys = parse_api_keys(os.environ.get("MANYSHORES_API_KEYS", ""))
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        values: dict[str, object] = {"api_keys": keys}
        if os.environ.get("MANYSHORES_REPLICA"):
            values["replica"] = os.environ["MANYSHORES_REPLICA"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
