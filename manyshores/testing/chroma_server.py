"""Start and stop a real `chroma run` server on 127.0.0.1 for tests and benchmarks.

    with ChromaServer(tmp_path / "chroma") as server:
        settings = Settings(chroma_url=server.url)

The `chroma` command comes with the chromadb package (next to the Python interpreter in a
virtualenv). `start` raises `ChromaServerUnavailable` with the reason (and the server's last
output) when the binary is missing or the server does not answer its heartbeat in time.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from manyshores.testing.processes import end_process


class ChromaServerUnavailable(RuntimeError):
    """The `chroma run` server could not be started."""


def chroma_binary() -> str | None:
    """The `chroma` CLI of this interpreter's environment, else the one on PATH."""
    local = Path(sys.executable).parent / "chroma"
    if local.is_file():
        return str(local)
    return shutil.which("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ChromaServer:
    """A `chroma run --path PATH --host 127.0.0.1 --port PORT` child process."""

    path: Path
    """Data directory of the server."""
    port: int = field(default_factory=free_port)
    """TCP port on 127.0.0.1."""
    start_timeout_s: float = 60.0
    """How long to wait for the heartbeat (a cold start on a busy machine takes seconds)."""
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: Path | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        """Process id of the running server (tests pause it to simulate a hang)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChromaServer:
        import httpx

        binary = chroma_binary()
        if binary is None:
            raise ChromaServerUnavailable(
                "the `chroma` command is not installed (pip install chromadb)"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self._log = self.path.parent / f"chroma-server-{self.port}.log"
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    binary,
                    "run",
                    "--path",
                    str(self.path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ChromaServerUnavailable(
                    f"`chroma run` exited with code {self._proc.returncode}: {self._tail()}"
                )
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ChromaServerUnavailable(
            f"`chroma run` did not answer within {self.start_timeout_s:g}s: {self._tail()}"
        )

    def _tail(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-800:]

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within 10 s)."""
        if self._proc is None:
            return
        end_process(self._proc)
        self._proc = None

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
