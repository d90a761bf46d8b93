"""`manyshores bench engines`: `bench serve` against the in-process engines and the vLLM engine,
side by side in one run.

One `manyshores serve` process per engine is started on loopback with the same home (knowledge
base, experts) and its own checkpoint file: in-process with plain generation on llama.cpp (the
default when its binding is installed), in-process on transformers alone, and
`MANYSHORES_ENGINE=vllm` (turns of different conversations at once, the model work batched by
the vLLM server, which must be running: `manyshores engine start`). For each concurrency level
the engines are measured one after the other, never at the same time, so none steals another's
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

ENGINES: dict[str, dict[str, str]] = {
    "inprocess": {"MANYSHORES_ENGINE": "inprocess"},
    "transformers": {"MANYSHORES_ENGINE": "inprocess", "MANYSHORES_TEXT_RUNTIME": "transformers"},
    "vllm": {"MANYSHORES_ENGINE": "vllm"},
}
"""Engine name → the settings its server runs with. `inprocess` keeps the default text runtime
(llama.cpp when installed); `transformers` is the in-process engine with every model call on
transformers."""


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
    env.pop("MANYSHORES_TEXT_RUNTIME", None)
    env.update(ENGINES[engine])
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


def check_engines(engines: list[str]) -> list[str]:
    """`engines` if each is known and vLLM is among them with something to compare it to."""
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ManyshoresError(f"unknown engine {unknown[0]!r}; choose from {', '.join(ENGINES)}")
    if "vllm" not in engines or len(set(engines)) < 2:
        raise ManyshoresError("compare vllm with at least one in-process engine")
    return list(dict.fromkeys(engines))


def throughput_ratios(row: dict[str, Any]) -> dict[str, float | None]:
    """vLLM's requests/s divided by each other engine's, in one level's row."""
    ratios: dict[str, float | None] = {}
    for engine, result in row.items():
        if engine != "vllm":
            base = result["requests_per_s"]
            ratios[engine] = round(row["vllm"]["requests_per_s"] / base, 3) if base else None
    return ratios


def run_engines_bench(
    levels: list[int],
    turns: int,
    workdir: Path | None = None,
    engines: list[str] | None = None,
) -> dict[str, Any]:
    """Per level, each engine's `bench serve` report and vLLM's throughput ratio to each other
    engine (`throughput_ratio_vllm_vs`)."""
    chosen = check_engines(engines or list(ENGINES))
    tmp = Path(workdir or tempfile.mkdtemp(prefix="manyshores-bench-engines-"))
    tmp.mkdir(parents=True, exist_ok=True)
    servers: dict[str, Any] = {}
    report: dict[str, Any] = {"turns": turns, "engines": chosen, "levels": {}}
    try:
        for engine in chosen:
            servers[engine] = start_server(engine, tmp, max_queue=2 * max(levels))
        for level in levels:
            row: dict[str, Any] = {}
            for engine in chosen:
                row[engine] = run_serve_bench(
                    servers[engine][0], conversations=level, turns=turns, sequential=False
                )
            ratios = throughput_ratios(row)
            report["levels"][str(level)] = {**row, "throughput_ratio_vllm_vs": ratios}
    finally:
        for _, proc in servers.values():
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return report
