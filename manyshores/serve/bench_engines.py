"""`manyshores bench engines`: `bench serve` against the in-process engine and the vLLM engine,
side by side in one run.

Two `manyshores serve` processes are started on loopback with the same home (knowledge base,
experts) and their own checkpoint files: one in-process (one turn at a time), one with
`MANYSHORES_ENGINE=vllm` (turns of different conversations at once, the model work batched by
the vLLM server, which must be running: `manyshores engine start`). For each concurrency level
the two are measured one after the other, never at the same time, so neither steals the other's
cores.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from manyshores.errors import ManyshoresError
from manyshores.serve.bench import run_serve_bench

ENGINES = ("inprocess", "vllm")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ManyshoresError(f"the server exited while starting; see {log}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5):
                return
        except OSError:
            time.sleep(1.0)
    raise ManyshoresError(f"the server at {url} did not answer within {wait_s:g} s; see {log}")


def start_server(engine: str, workdir: Path, max_queue: int, wait_s: float = 600.0) -> Any:
    """A `manyshores serve` subprocess with `engine`; (url, process)."""
    port = _free_port()
    env = dict(os.environ)
    env["MANYSHORES_ENGINE"] = engine
    env["MANYSHORES_CHECKPOINT_DB"] = str(workdir / f"{engine}.sqlite")
    log = workdir / f"serve-{engine}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "manyshores.cli.main", "serve", "--port", str(port)]
            + ["--max-queue", str(max_queue)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc, log, wait_s)
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise
    return url, proc


def run_engines_bench(levels: list[int], turns: int, workdir: Path | None = None) -> dict[str, Any]:
    """Per level, each engine's `bench serve` report and vLLM's throughput ratio."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="manyshores-bench-engines-"))
    tmp.mkdir(parents=True, exist_ok=True)
    servers = {e: start_server(e, tmp, max_queue=2 * max(levels)) for e in ENGINES}
    report: dict[str, Any] = {"turns": turns, "levels": {}}
    try:
        for level in levels:
            row: dict[str, Any] = {}
            for engine in ENGINES:
                row[engine] = run_serve_bench(
                    servers[engine][0], conversations=level, turns=turns, sequential=False
                )
            a, b = row["inprocess"]["requests_per_s"], row["vllm"]["requests_per_s"]
            row["throughput_ratio_vllm_vs_inprocess"] = round(b / a, 3) if a else None
            report["levels"][str(level)] = row
    finally:
        for _, proc in servers.values():
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return report
