"""`manyshores bench serve --replicas N`: the same load on one replica, then on N behind HAProxy,
one of them SIGKILLed mid-run; every thread checked.

What it starts (each only when not given): a PostgreSQL cluster (`ThrowawayPostgres`, fsync
on) for checkpoints, profiles and the conversations' locks; a `chroma run` server seeded with
the default knowledge base (`manyshores kb init`); N `manyshores serve` processes on both; and
HAProxy in front, checking `/healthz`. Then:

1. one replica: the others are taken out of the balancer's rotation (its admin socket) and the
   load runs through it, for the throughput of one;
2. N replicas: all put back, the same load again; after `kill_after` answered requests the last
   replica is SIGKILLed. Failed requests are sent again with their request id (`retries`).
3. every conversation is called once more, then every thread is read back and checked: lost,
   mixed, half-written and duplicated turns (`bench.check_threads`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manyshores.errors import ManyshoresError
from manyshores.serve.bench import _Run, check_threads, close_conversations, drive
from manyshores.testing.balancer import HAProxyBalancer
from manyshores.testing.chroma_server import ChromaServer
from manyshores.testing.postgres import ThrowawayPostgres
from manyshores.testing.replicas import ReplicaProcess

RETRIES = 3
"""Times the bench client sends a failed request again, with the same request id."""


def serve_command(max_queue: int, timeout_s: float) -> list[str]:
    """`manyshores serve` as a replica runs it (the port is added per replica)."""
    return [
        sys.executable,
        "-m",
        "manyshores.cli.main",
        "serve",
        "--max-queue",
        str(max_queue),
        "--timeout",
        str(timeout_s),
    ]


@dataclass
class Deployment:
    """The services of a replicated deployment on this machine."""

    database_url: str
    """Checkpoints, profiles and the conversations' locks."""
    chroma_url: str
    """The knowledge base's server."""
    replicas: list[ReplicaProcess]
    balancer: HAProxyBalancer
    postgres: ThrowawayPostgres | None = None
    """Started here (None: given)."""
    chroma: ChromaServer | None = None
    """Started here (None: given)."""
    started: dict[str, float] = field(default_factory=dict)
    """Seconds each step took to start."""

    def close(self) -> None:
        self.balancer.stop()
        for replica in self.replicas:
            replica.stop()
        if self.chroma is not None:
            self.chroma.stop()
        if self.postgres is not None:
            self.postgres.close()


def seed_knowledge_base(chroma_url: str, log: Path) -> None:
    """`manyshores kb init` against the server (idempotent; no-op when it is seeded)."""
    env = {**os.environ, "MANYSHORES_CHROMA_URL": chroma_url}
    with log.open("ab") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "manyshores.cli.main", "kb", "init", "--no-prepare"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        raise ManyshoresError(f"seeding the Chroma server at {chroma_url} failed; see {log}")


def start_deployment(
    replicas: int,
    workdir: Path,
    command: list[str],
    env: dict[str, str] | None = None,
    database_url: str | None = None,
    chroma_url: str | None = None,
    seed: bool = True,
    cwd: Path | None = None,
) -> Deployment:
    """PostgreSQL and Chroma (unless given), `replicas` servers running `command`, HAProxy."""
    if replicas < 1:
        raise ManyshoresError("--replicas must be at least 1")
    times: dict[str, float] = {}
    postgres = chroma = None
    t = time.perf_counter()
    if database_url is None:
        postgres = ThrowawayPostgres().start()
        database_url = postgres.create_database("manyshores")
    times["postgres_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    if chroma_url is None:
        chroma = ChromaServer(workdir / "chroma").start()
        chroma_url = chroma.url
        if seed:
            seed_knowledge_base(chroma_url, workdir / "kb-init.log")
    times["chroma_s"] = round(time.perf_counter() - t, 1)
    shared = {
        "MANYSHORES_CHECKPOINT_URL": database_url,
        "MANYSHORES_CHROMA_URL": chroma_url,
        **(env or {}),
    }
    shared.setdefault("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    procs = [
        ReplicaProcess(f"r{i + 1}", command, workdir, env=shared, cwd=cwd) for i in range(replicas)
    ]
    deployment = Deployment(
        database_url,
        chroma_url,
        procs,
        HAProxyBalancer({r.name: r.address for r in procs}, workdir / "haproxy"),
        postgres,
        chroma,
        times,
    )
    try:
        t = time.perf_counter()
        # Started together: each loads its model while the others do.
        with ThreadPoolExecutor(max_workers=replicas) as pool:
            for future in [pool.submit(r.start) for r in procs]:
                future.result()
        times["replicas_s"] = round(time.perf_counter() - t, 1)
        deployment.balancer.start()
        for r in procs:
            deployment.balancer.wait_state(r.name, "UP")
    except BaseException:
        deployment.close()
        raise
    return deployment


def _load(
    url: str,
    conversations: int,
    turns: int,
    api_key: str | None,
    on_answer: Any = None,
) -> dict[str, Any]:
    run = _Run(url, api_key, retries=RETRIES, on_answer=on_answer)
    report = drive(run, conversations, turns)
    close_conversations(run, conversations, turns)
    closing = [r for r in run.records if r.turn == turns]
    report["closing_calls_answered"] = sum(r.answered for r in closing)
    report.update(check_threads(run, conversations))
    report["failed_requests"] = [
        {"conversation": r.conversation, "turn": r.turn, "failures": r.failures[:3]}
        for r in run.records
        if r.failures
    ][:20]
    return report


def run_replica_bench(
    replicas: int,
    conversations: int = 32,
    turns: int = 5,
    kill_after: int | None = None,
    workdir: Path | None = None,
    api_key: str | None = None,
    database_url: str | None = None,
    chroma_url: str | None = None,
    max_queue: int = 64,
    timeout_s: float = 3600.0,
) -> dict[str, Any]:
    """The report of both runs (see the module docstring); `kill_after` None kills nothing."""
    if replicas < 2 and kill_after:
        raise ManyshoresError("--kill-after needs at least 2 replicas (one must survive)")
    tmp = Path(workdir or tempfile.mkdtemp(prefix="manyshores-bench-replicas-"))
    tmp.mkdir(parents=True, exist_ok=True)
    command = serve_command(max_queue, timeout_s)
    deployment = start_deployment(
        replicas, tmp, command, database_url=database_url, chroma_url=chroma_url
    )
    lb = deployment.balancer
    try:
        for r in deployment.replicas[1:]:
            lb.set_enabled(r.name, False)
        one = _load(lb.url, conversations, turns, api_key)
        for r in deployment.replicas[1:]:
            lb.set_enabled(r.name, True)
            lb.wait_state(r.name, "UP")

        victim = deployment.replicas[-1]
        killed: dict[str, Any] = {}
        guard = threading.Lock()
        started = time.perf_counter()

        def on_answer(answered: int) -> None:
            with guard:
                if kill_after is None or killed or answered < kill_after:
                    return
                killed.update(
                    replica=victim.name,
                    after_answered=answered,
                    at_s=round(time.perf_counter() - started, 1),
                )
            victim.kill()

        report = _load(lb.url, conversations, turns, api_key, on_answer)
        if killed:
            killed["balancer_sees"] = lb.states()
            report["killed"] = killed
        report.update(
            replicas=replicas,
            backend="postgres",
            knowledge_base=deployment.chroma_url,
            balancer="haproxy",
            start_s=deployment.started,
            one_replica=one,
            throughput_ratio_vs_one_replica=(
                round(report["requests_per_s"] / one["requests_per_s"], 3)
                if one["requests_per_s"]
                else None
            ),
        )
        return report
    finally:
        deployment.close()
