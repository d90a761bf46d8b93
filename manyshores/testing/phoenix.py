"""A real Phoenix server for tests and screenshots: `phoenix serve` on free loopback ports with
its own working directory, from the environment `make phoenix-setup` builds (Phoenix's pins
clash with the project's, so it lives beside the project's environment, not in it).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manyshores.errors import InvalidInputError

PYTHON_ENV = "MANYSHORES_PHOENIX_PYTHON"
"""Environment variable naming the Python that has `arize-phoenix` installed."""
REPO_VENV = Path(__file__).resolve().parents[2] / ".venv-phoenix"


def phoenix_python() -> Path | None:
    """The Python of the Phoenix environment, or None when there is none."""
    named = os.environ.get(PYTHON_ENV)
    candidates = [Path(named)] if named else [REPO_VENV / "bin" / "python"]
    for candidate in candidates:
        if candidate.is_file() and (candidate.parent / "phoenix").is_file():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PhoenixServer:
    """A running `phoenix serve`."""

    process: subprocess.Popen[bytes]
    url: str
    """Base URL of the UI and API, e.g. `http://127.0.0.1:43123`."""
    python: Path
    """The Python of the Phoenix environment (its client runs there)."""
    log: Path

    @property
    def otlp_endpoint(self) -> str:
        """Where manyshores sends spans: `MANYSHORES_OTEL_ENDPOINT`."""
        return f"{self.url}/v1/traces"

    def _client(self, code: str, *args: str) -> Any:
        """Run `code` with Phoenix's client in the Phoenix environment; its stdout is JSON."""
        out = subprocess.run(
            [
                str(self.python),
                "-c",
                "import json, sys\nfrom phoenix.client import Client\n" + code,
                self.url,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PHOENIX_TELEMETRY_ENABLED": "false"},
        )
        if out.returncode != 0:
            raise RuntimeError(f"phoenix client failed: {out.stderr[-2000:]}")
        return json.loads(out.stdout)

    def spans(self, project: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The project's spans as Phoenix's client returns them (JSON dicts)."""
        code = (
            "spans = Client(base_url=sys.argv[1]).spans.get_spans(\n"
            "    project_identifier=sys.argv[2], limit=int(sys.argv[3]))\n"
            "print(json.dumps(list(spans), default=str))\n"
        )
        return list(self._client(code, project, str(limit)))

    def project_id(self, project: str) -> str:
        """Phoenix's id of a project (its UI addresses projects by id, not by name)."""
        code = (
            "project = Client(base_url=sys.argv[1]).projects.get(project_name=sys.argv[2])\n"
            "print(json.dumps(project['id']))\n"
        )
        return str(self._client(code, project))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_phoenix(
    working_dir: Path, python: Path | None = None, port: int | None = None, wait_s: float = 240
) -> PhoenixServer:
    """Start `phoenix serve` and wait until `/healthz` answers (~20 s on an idle machine)."""
    python = python or phoenix_python()
    if python is None:
        raise InvalidInputError(
            f"no Phoenix environment: run `make phoenix-setup` or set {PYTHON_ENV}"
        )
    working_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        # Phoenix also opens an OTLP/gRPC port (4317 by default): a free one, so that two
        # servers (a test beside `make phoenix`) never collide.
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = working_dir / "phoenix.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(python.parent / "phoenix"), "serve"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=working_dir,
        )
    server = PhoenixServer(process=process, url=f"http://127.0.0.1:{port}", python=python, log=log)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"phoenix serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"phoenix serve not healthy after {wait_s:.0f} s; log in {log}")
