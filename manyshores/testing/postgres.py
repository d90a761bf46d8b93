"""A throwaway PostgreSQL cluster for tests and benchmarks, started from the local binaries.

    with ThrowawayPostgres() as pg:
        url = pg.create_database("t1")      # postgresql://postgres@127.0.0.1:PORT/t1
        ...
        pg.restart()                         # fault runs: the server goes away and comes back

`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` system user
(`runuser -u postgres --`) in a directory that user owns; as any other user they run directly.
The cluster trusts local connections (no password) and lives only as long as the context.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_DIRS = (
    Path("/usr/lib/postgresql/15/bin"),
    Path("/usr/lib/postgresql/16/bin"),
    Path("/usr/lib/postgresql/17/bin"),
)


def find_pg_bin() -> Path | None:
    """The first directory holding `initdb` and `pg_ctl`, or None when PostgreSQL is absent."""
    override = os.environ.get("MANYSHORES_PG_BIN")
    candidates = [Path(override)] if override else list(PG_BIN_DIRS)
    on_path = shutil.which("initdb")
    if on_path and not override:
        candidates.append(Path(on_path).parent)
    for d in candidates:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ThrowawayPostgres:
    """A private PostgreSQL cluster on a free port of 127.0.0.1."""

    bin_dir: Path | None = None
    """Where `initdb`/`pg_ctl` are; default: `find_pg_bin()`."""
    fsync: bool = True
    """PostgreSQL's default durability; tests may turn it off for speed."""
    port: int = field(default_factory=free_port)
    """TCP port the cluster listens on."""
    root: Path | None = None
    """The cluster's directory (made under /tmp, owned by the user running the server)."""

    def _as_server_user(self, *cmd: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *cmd]
        return list(cmd)

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> ThrowawayPostgres:
        self.bin_dir = self.bin_dir or find_pg_bin()
        if self.bin_dir is None:
            raise FileNotFoundError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found in "
                f"{', '.join(map(str, PG_BIN_DIRS))}: install postgresql-15 "
                "(or set MANYSHORES_PG_BIN)"
            )
        self.root = Path(tempfile.mkdtemp(prefix="manyshores-pg-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            self._as_server_user(
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str) -> None:
        assert self.bin_dir is not None and self.root is not None, "call start() first"
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=200"
        )
        cmd = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60"]
        if action == "start" or action == "restart":
            cmd += ["-o", options, "-l", str(self.root / "server.log")]
        if action in ("stop", "restart"):
            cmd += ["-m", "fast"]
        subprocess.run(self._as_server_user(*cmd, action), check=True, capture_output=True)

    def stop(self) -> None:
        """Stop the server (the data stays until `close`)."""
        self._pg_ctl("stop")

    def start_again(self) -> None:
        """Start the server after `stop` (same data, same port)."""
        self._pg_ctl("start")

    def restart(self) -> None:
        self._pg_ctl("restart")

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def close(self) -> None:
        if self.root is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._pg_ctl("stop")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
