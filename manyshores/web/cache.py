"""SQLite cache of successful web searches with a TTL.

Only successes are stored (a failure must not be replayed for a week). A locked or unreadable
database raises `CacheUnavailable` after a short busy timeout; the searcher turns that into a
trace note and searches without the cache, so it never fails a turn.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SCHEMA = "CREATE TABLE IF NOT EXISTS web_cache (key TEXT PRIMARY KEY, created REAL, payload TEXT)"


class CacheUnavailable(Exception):
    """The cache database is locked, corrupt or unwritable."""


def cache_key(**parts: Any) -> str:
    """Stable key of a request (never includes the API key)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class WebCache:
    """Key → JSON payload with a creation time; entries older than `ttl_s` are misses."""

    def __init__(
        self,
        path: Path,
        ttl_s: float,
        *,
        busy_timeout_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        """SQLite file."""
        self.ttl_s = ttl_s
        """Entries older than this are ignored (and replaced on the next success)."""
        self.busy_timeout_s = busy_timeout_s
        """How long to wait for a lock before giving up (short: the turn is waiting)."""
        self.clock = clock
        """Time source (tests move it forward to expire entries)."""
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    str(self.path), timeout=self.busy_timeout_s, check_same_thread=False
                )
                conn.execute(_SCHEMA)
                conn.commit()
            except (sqlite3.Error, OSError) as exc:
                raise CacheUnavailable(f"web cache {self.path}: {exc}") from exc
            self._conn = conn
        return self._conn

    def get(self, key: str) -> Any | None:
        """The cached payload, or None when missing, expired or the cache is unavailable."""
        with self._lock:
            try:
                row = (
                    self._connect()
                    .execute("SELECT created, payload FROM web_cache WHERE key = ?", (key,))
                    .fetchone()
                )
            except (sqlite3.Error, CacheUnavailable):
                raise CacheUnavailable(f"web cache {self.path} is locked or unreadable") from None
        if row is None or self.clock() - float(row[0]) > self.ttl_s:
            return None
        try:
            return json.loads(row[1])
        except json.JSONDecodeError:
            return None

    def put(self, key: str, payload: Any) -> None:
        """Store a successful result (raises CacheUnavailable when locked)."""
        with self._lock:
            try:
                conn = self._connect()
                conn.execute(
                    "INSERT OR REPLACE INTO web_cache (key, created, payload) VALUES (?, ?, ?)",
                    (key, self.clock(), json.dumps(payload)),
                )
                conn.commit()
            except (sqlite3.Error, CacheUnavailable):
                if self._conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.rollback()
                raise CacheUnavailable(f"web cache {self.path} is locked or unwritable") from None

    def count(self) -> int:
        with self._lock:
            try:
                return int(self._connect().execute("SELECT COUNT(*) FROM web_cache").fetchone()[0])
            except (sqlite3.Error, CacheUnavailable):
                return 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
