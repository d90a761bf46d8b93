"""Long-term user culture profiles in a persisted LangGraph store (shared across threads).

    store = open_sqlite_store(settings.checkpoint_path)   # also pass to graph.compile(store=...)
    profiles = UserProfiles(store)
    profiles.record("alice", {"KEN": 0.9, "TZA": 0.1})     # after a turn with a confident posterior
    profiles.get("alice")                                  # {"KEN": 0.9, "TZA": 0.1}: a detection prior
    profiles.forget("alice")                               # deletes the row and overwrites it on disk

A profile is a decayed running sum of the posteriors recorded for the user, normalised on read,
so a user who moves on from one culture to another is followed within a few turns.
`forget` really deletes: the store's connection runs with `secure_delete` (freed pages are
zeroed) and the WAL is checkpointed, so the user's data is not left in the file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError, RetrievalError

if TYPE_CHECKING:
    from manyshores.config import Settings

NAMESPACE = ("manyshores", "culture_profile")
DECAY = 0.8
"""Weight kept by the past at each new record: after ~5 turns the old culture is under 1/3."""
MIN_WEIGHT = 0.01
"""Cultures whose normalised weight falls below this are dropped from the profile."""


def open_settings_store(settings: Settings) -> Any:
    """The long-term store the settings name: PostgreSQL for a `checkpoint_url`, else the
    SQLite checkpoint file (its own tables), as `manyshores profile` reads it."""
    if settings.checkpoint_url:
        from manyshores.memory.postgres import open_postgres_store

        return open_postgres_store(settings.checkpoint_url)
    return open_sqlite_store(settings.checkpoint_path)


def open_sqlite_store(path: Path | str) -> Any:
    """A set-up `SqliteStore` on `path` (created if needed), safe to share between threads."""
    from langgraph.store.sqlite import SqliteStore

    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        # Deleted rows are overwritten with zeros, so `forget` leaves nothing readable behind.
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA busy_timeout = 5000")
        store = SqliteStore(conn)
        store.setup()
    except sqlite3.DatabaseError as exc:
        raise RetrievalError(f"the profile store {path} cannot be opened: {exc}") from exc
    return store


def _key(user_id: str) -> str:
    user_id = user_id.strip()
    if not user_id:
        raise InvalidInputError("user id must not be empty")
    return user_id


class UserProfiles:
    """Per-user culture weights on a LangGraph `BaseStore` (any store works; SQLite persists)."""

    def __init__(self, store: Any, *, decay: float = DECAY) -> None:
        self.store = store
        """The LangGraph store (share the graph's, so profiles live next to checkpoints)."""
        self.decay = decay
        """Weight kept by the existing profile when a new posterior is recorded."""

    def record(self, user_id: str, cultures: Mapping[str, float]) -> None:
        """Fold a posterior (culture → p) into the user's profile."""
        key = _key(user_id)
        item = self.store.get(NAMESPACE, key)
        old: dict[str, float] = dict(item.value.get("cultures", {})) if item else {}
        turns = int(item.value.get("turns", 0)) if item else 0
        merged = {c: w * self.decay for c, w in old.items()}
        total = sum(p for p in cultures.values() if p > 0) or 1.0
        for c, p in cultures.items():
            if p > 0:
                merged[c] = merged.get(c, 0.0) + (1 - self.decay) * p / total
        norm = sum(merged.values()) or 1.0
        profile = {c: round(w / norm, 6) for c, w in merged.items() if w / norm >= MIN_WEIGHT}
        value = {"cultures": profile, "turns": turns + 1, "updated": time.time()}
        self.store.put(NAMESPACE, key, value)

    def get(self, user_id: str) -> dict[str, float] | None:
        """The user's culture weights (sum to 1, descending), or None for an unknown user."""
        item = self.store.get(NAMESPACE, _key(user_id))
        if item is None:
            return None
        cultures = dict(item.value.get("cultures", {}))
        return dict(sorted(cultures.items(), key=lambda kv: -kv[1])) or None

    def details(self, user_id: str) -> dict[str, Any] | None:
        """The stored record (cultures, turns, updated) for `profile show`."""
        item = self.store.get(NAMESPACE, _key(user_id))
        return None if item is None else {"user_id": user_id, **item.value}

    def forget(self, user_id: str) -> bool:
        """Delete the user's profile; True when there was one."""
        key = _key(user_id)
        existed = self.store.get(NAMESPACE, key) is not None
        self.store.delete(NAMESPACE, key)
        conn = getattr(self.store, "conn", None)
        if isinstance(conn, sqlite3.Connection):
            # Move the deletion out of the WAL into the (secure-deleted) main file.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return existed
