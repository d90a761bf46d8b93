"""One turn of a conversation at a time: in this process, and across replicas on PostgreSQL.

In one process a lock per thread id keeps two turns of one conversation from interleaving (two
requests on one thread, a turn and a read of its thread). Replicas behind a load balancer share
the conversation through the database, so they share its lock there too: a PostgreSQL advisory
lock keyed by a hash of the (stored) thread id, held on a dedicated connection for the whole
turn. The server releases it when the turn ends, or when the connection dies with a killed
replica, so a turn cut off by a crash never blocks its conversation. Readers take the lock
shared: they wait for a turn under way anywhere, and never block one another.

A second turn of a busy conversation waits for the lock up to its request's deadline
(`lock_timeout`), then gives up as a turn that never started (504, absent from the thread).
SQLite has no such lock across processes, which is why it serves one replica.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

LOCK_SPACE = "manyshores-thread"
"""Mixed into the key so other applications' advisory locks on the database never collide."""


class LockWaitTimeout(Exception):
    """The conversation stayed busy past the deadline."""


def advisory_key(thread_id: str) -> int:
    """The signed 64-bit advisory-lock key of a stored thread id (a collision only makes two
    conversations wait for each other, never mixes them)."""
    digest = hashlib.sha256(f"{LOCK_SPACE}\x1f{thread_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LocalLocks:
    """A lock per thread id in this process, dropped when no one holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, thread_id: str, deadline: float) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(thread_id, (threading.Lock(), 0))
            self._locks[thread_id] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise LockWaitTimeout(thread_id)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[thread_id]
                if users == 1:
                    del self._locks[thread_id]
                else:
                    self._locks[thread_id] = (lock, users - 1)


class PostgresLocks:
    """Advisory locks on the PostgreSQL server the checkpoints live on."""

    def __init__(self, url: str, connect_timeout_s: float = 5.0) -> None:
        self.url = url
        """The database (the checkpoint URL)."""
        self.connect_timeout_s = connect_timeout_s
        """How long opening the lock's connection may take."""

    @contextlib.contextmanager
    def hold(self, thread_id: str, deadline: float, shared: bool = False) -> Iterator[None]:
        """Hold the thread's lock (exclusive for a turn, `shared` for a read) until the block
        ends; raises LockWaitTimeout when it is not free before `deadline` (monotonic s)."""
        import psycopg

        wait_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
        if wait_ms <= 0:
            raise LockWaitTimeout(thread_id)
        conn = self._connect(min(deadline, time.monotonic() + self.connect_timeout_s))
        try:
            # Waits in the server (no polling); lock_timeout bounds the wait to the deadline.
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{wait_ms}ms",))
            fn = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
            try:
                conn.execute(f"SELECT {fn}(%s)", (advisory_key(thread_id),))
            except psycopg.errors.LockNotAvailable:
                raise LockWaitTimeout(thread_id) from None
            yield
        finally:
            # Closing the session releases its advisory locks (no unlock round trip needed).
            conn.close()

    def _connect(self, until: float) -> Any:
        """A new session; a server restarting (refusing connections) is waited for until
        `until`, as the checkpoint pool waits, so a short restart is ridden over."""
        import psycopg

        while True:
            try:
                return psycopg.connect(
                    self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout_s))
                )
            except psycopg.OperationalError:
                if time.monotonic() + 0.2 >= until:
                    raise
                time.sleep(0.2)


class ThreadLocks:
    """The locks a server takes around each turn and each read of a thread: this process's,
    then (on PostgreSQL) the database's."""

    def __init__(self, postgres_url: str | None = None) -> None:
        self.local = LocalLocks()
        self.shared: PostgresLocks | None = PostgresLocks(postgres_url) if postgres_url else None
        """Across replicas; None on SQLite (one replica)."""

    @contextlib.contextmanager
    def hold(self, thread_id: str, deadline: float, read: bool = False) -> Iterator[None]:
        with self.local.hold(thread_id, deadline):
            if self.shared is None:
                yield
                return
            with self.shared.hold(thread_id, deadline, shared=read):
                yield


def holders(url: str, thread_id: str) -> list[dict[str, Any]]:
    """Sessions holding or awaiting the thread's advisory lock (for tests and diagnosis)."""
    import psycopg

    key = advisory_key(thread_id)
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, mode, granted FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            (high, low),
        ).fetchall()
    return [{"pid": r[0], "mode": r[1], "granted": r[2]} for r in rows]
