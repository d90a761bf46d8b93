"""Server processes started, checked, killed and drained, for tests and benchmarks of replicas.

    replica = ReplicaProcess("r1", [sys.executable, "-m", "manyshores.cli.main", "serve"],
                             env={"MANYSHORES_CHECKPOINT_URL": url}, workdir=tmp)
    replica.start()          # appends --port PORT, waits for /healthz
    replica.kill()           # SIGKILL: the crash a deployment must survive
    replica.terminate()      # SIGTERM: `manyshores serve` drains, then exits

The command is anything that serves the manyshores API on the port given as `--port PORT`;
`MANYSHORES_REPLICA` carries the replica's name (the `X-Manyshores-Replica` response header).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manyshores.testing.postgres import free_port


class ReplicaStartError(RuntimeError):
    """The server process exited or stayed silent while starting."""


@dataclass
class ReplicaProcess:
    """One server process on 127.0.0.1."""

    name: str
    """Its replica name."""
    command: list[str]
    """The server command, without `--port`."""
    workdir: Path
    """Where its log goes."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables set on top of this process's environment."""
    port: int = field(default_factory=free_port)
    """Its TCP port."""
    cwd: Path | None = None
    """Working directory of the process (None: this one's)."""
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"replica-{self.name}.log"

    def start(self, wait_s: float = 600.0) -> ReplicaProcess:
        """Start it and wait until `/healthz` answers 200."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "MANYSHORES_REPLICA": self.name}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.command, "--port", str(self.port)],
                env=env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ReplicaStartError(
                    f"replica {self.name} exited with {self.proc.returncode}: {self.tail()}"
                )
            if self.health() is not None:
                return self
            time.sleep(0.2)
        self.kill()
        raise ReplicaStartError(f"replica {self.name} did not answer within {wait_s:g} s")

    def health(self) -> tuple[int, dict[str, Any]] | None:
        """(status, body) of `/healthz`, or None when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            return None

    def tail(self, chars: int = 2000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or an out-of-memory kill would."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def terminate(self) -> None:
        """SIGTERM: the server drains (see `manyshores.serve.process`)."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        """Its exit status once it exits."""
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        """Terminate it and kill it if it lingers."""
        if self.running:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
