"""The checkpointer behind multi-turn memory, traces and time travel: SQLite by default,
PostgreSQL when `checkpoint_url` is set."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.sqlite import SqliteSaver

from manyshores.errors import InvalidInputError
from manyshores.timing import phase

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata

    from manyshores.config import Settings


def open_settings_checkpointer(settings: Settings) -> Any:
    """The checkpointer the settings name: PostgreSQL for a `checkpoint_url`, else SQLite."""
    if settings.checkpoint_url:
        from manyshores.memory.postgres import is_postgres_url, open_postgres_checkpointer

        if not is_postgres_url(settings.checkpoint_url):
            raise InvalidInputError(
                f"MANYSHORES_CHECKPOINT_URL must be a postgresql:// URL, not "
                f"{settings.checkpoint_url.split('://')[0]}://..."
            )
        return open_postgres_checkpointer(settings.checkpoint_url)
    return open_checkpointer(settings.checkpoint_path, settings.checkpoint_timeout_s)


class TimedSqliteSaver(SqliteSaver):
    """`SqliteSaver` whose writes are the `checkpoint` phase of `manyshores.timing` (nothing is
    recorded unless a benchmark listens)."""

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        with phase("checkpoint"):
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        with phase("checkpoint"):
            super().put_writes(config, writes, task_id, task_path)


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
        saver = TimedSqliteSaver(conn)
        saver.setup()
    except sqlite3.DatabaseError as exc:
        raise InvalidInputError(
            f"cannot open the checkpoint database {path}: {exc} "
            "(locked by another process, or not a SQLite file; set MANYSHORES_CHECKPOINT_DB)"
        ) from exc
    return saver


def unreadable(path: Path, exc: sqlite3.DatabaseError) -> InvalidInputError:
    """The one-line error for a checkpoint database that opened but cannot be read."""
    return InvalidInputError(
        f"cannot read the checkpoint database {path}: {exc} (damaged? `manyshores doctor` "
        "checks it; move it aside to start afresh, or set MANYSHORES_CHECKPOINT_DB)"
    )


def check_database(path: Path) -> str | None:
    """None when the SQLite file at `path` passes `PRAGMA quick_check` (or does not exist yet),
    else what is wrong. Read-only: opening it never creates or repairs anything."""
    path = path.expanduser()
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"{path}: {exc}"
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if not problems:
        return None
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{path}: " + "; ".join(problems[:3]) + more
