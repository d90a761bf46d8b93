"""The SQLite checkpointer behind multi-turn memory, traces and time travel."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from manyshores.errors import InvalidInputError


def open_checkpointer(path: Path, timeout_s: float = 10.0) -> SqliteSaver:
    """A `SqliteSaver` on `path` that waits up to `timeout_s` for a lock held elsewhere.

    WAL lets readers (`manyshores trace`) run while another process writes a turn.
    """
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=timeout_s)
        conn.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL loses nothing when the process dies (only on power loss), and
        # saves an fsync per checkpoint.
        conn.execute("PRAGMA synchronous=NORMAL")
        saver = SqliteSaver(conn)
        saver.setup()
    except sqlite3.DatabaseError as exc:
        raise InvalidInputError(
            f"cannot open the checkpoint database {path}: {exc} "
            "(locked by another process, or not a SQLite file; set MANYSHORES_CHECKPOINT_DB)"
        ) from exc
    return saver
