"""Checkpoints and user profiles in PostgreSQL (`MANYSHORES_CHECKPOINT_URL=postgresql://...`).

LangGraph's own `PostgresSaver` and `PostgresStore`, each over a small connection pool: a pool
(not one connection) so that a PostgreSQL restart costs the requests in flight a clear error
and the next ones reconnect. Tables are created (`setup()`) the first time a URL is opened.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from manyshores.errors import CheckpointStoreError

POOL_MAX = 8
"""Connections per pool; the server runs one turn at a time, readers (trace, bench) add a few."""
CONNECT_TIMEOUT_S = 5.0


def redacted(url: str) -> str:
    """The URL without its password, to name the server in errors and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}"))


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).scheme in ("postgres", "postgresql")


def _pool(url: str) -> Any:
    try:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise CheckpointStoreError(
            "MANYSHORES_CHECKPOINT_URL names PostgreSQL but its driver is not installed: "
            "pip install 'manyshores[postgres]'"
        ) from exc
    import psycopg

    # One plain connection first: its failure carries the server's own reason (refused,
    # unknown host, bad password), where a pool would only time out.
    try:
        psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT_S)).close()
    except psycopg.Error as exc:
        raise CheckpointStoreError(
            f"cannot reach the PostgreSQL server at {redacted(url)}: {str(exc).strip()} "
            "(is it running and accepting connections? check MANYSHORES_CHECKPOINT_URL)"
        ) from exc
    # LangGraph's Postgres classes need autocommit and dict rows; prepared statements break
    # behind PgBouncer-style poolers, so they are off.
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=POOL_MAX,
        kwargs={
            "autocommit": True,
            "connect_timeout": int(CONNECT_TIMEOUT_S),
            "prepare_threshold": None,
            "row_factory": dict_row,
        },
        check=ConnectionPool.check_connection,
        timeout=CONNECT_TIMEOUT_S,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:  # psycopg_pool.PoolTimeout carries the server's own reason
        pool.close()
        raise CheckpointStoreError(
            f"cannot reach the PostgreSQL server at {redacted(url)}: {exc} "
            "(is it running and accepting connections? check MANYSHORES_CHECKPOINT_URL)"
        ) from exc
    return pool


def open_postgres_checkpointer(url: str) -> Any:
    """A set-up `PostgresSaver` on `url`."""
    from langgraph.checkpoint.postgres import PostgresSaver

    saver = PostgresSaver(_pool(url))
    _setup(saver, url)
    return saver


def open_postgres_store(url: str) -> Any:
    """A set-up `PostgresStore` on `url` (the long-term user profiles)."""
    from langgraph.store.postgres import PostgresStore

    store = PostgresStore(_pool(url))
    _setup(store, url)
    return store


SETUP_LOCK = 0x6D616E7973686F72
"""Advisory-lock key held while the tables are created or migrated."""


def _setup(obj: Any, url: str) -> None:
    import time

    import psycopg

    try:
        # Replicas started together on a new database would run LangGraph's migrations at once
        # and fail (duplicate rows, deadlocks): one at a time, the others then find the tables
        # made. The lock lives on its own session, closed when setup ends. It is waited for by
        # polling, not by a blocking call: a waiting statement would be a transaction that the
        # holder's `CREATE INDEX CONCURRENTLY` waits for, a deadlock no server could see.
        with psycopg.connect(url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S)) as conn:
            while True:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK,)).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.1)
            obj.setup()
    except Exception as exc:
        raise CheckpointStoreError(
            f"cannot create the checkpoint tables on the PostgreSQL server at {redacted(url)}: {exc}"
        ) from exc


def is_outage(exc: BaseException) -> bool:
    """True for a lost or refused PostgreSQL connection (server restarted, down, pool empty).

    Checked through `sys.modules` so that SQLite-only installs never import psycopg.
    """
    import sys

    psycopg = sys.modules.get("psycopg")
    pool = sys.modules.get("psycopg_pool")
    kinds: tuple[type[BaseException], ...] = ()
    if psycopg is not None:
        kinds += (psycopg.OperationalError, psycopg.InterfaceError)
    if pool is not None:
        kinds += (pool.PoolTimeout,)
    return bool(kinds) and isinstance(exc, kinds)


def outage_error(exc: BaseException, url: str | None) -> CheckpointStoreError:
    where = f" at {redacted(url)}" if url else ""
    return CheckpointStoreError(
        f"lost the PostgreSQL server{where} ({type(exc).__name__}: {str(exc).strip()[:200]}); "
        "try again when it is back — every finished turn is stored, an unfinished one is "
        "completed by the thread's next call"
    )
