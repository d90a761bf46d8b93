"""`manyshores serve` (the OpenAI-compatible API) and `manyshores bench serve` (load on it)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import app, bench_app


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    max_queue: int | None = typer.Option(
        None, help="Turns running or waiting at once before 429 (default 16)."
    ),
    timeout: float | None = typer.Option(
        None, help="Seconds a request waits for its turn to finish before 504 (default 300)."
    ),
    max_body: int | None = typer.Option(None, help="Largest request body in bytes (413)."),
    workers: int | None = typer.Option(
        None,
        help="Turns of different conversations run at once (default 1; 32 with "
        "MANYSHORES_ENGINE=vllm, whose server batches them).",
    ),
    model_name: str | None = typer.Option(None, help="Model id clients see (default manyshores)."),
    warm: bool = typer.Option(True, help="Load the base model and experts before listening."),
    drain_timeout: float | None = typer.Option(
        None, help="On SIGTERM, seconds turns under way may take before exiting (default 60)."
    ),
) -> None:
    """Serve the culture graph as an OpenAI-compatible API (POST /v1/chat/completions).

    API keys: MANYSHORES_API_KEYS=tenant:key,... (or key1,key2, or a JSON list; without it, no
    authentication). Checkpoints and profiles: MANYSHORES_CHECKPOINT_DB (SQLite, one replica)
    or MANYSHORES_CHECKPOINT_URL (PostgreSQL, any number of replicas). SIGTERM drains.
    """
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.serve import ServeConfig, create_app
    from manyshores.serve.process import serve_app

    config = ServeConfig.from_env(
        max_queue=max_queue,
        workers=workers or _default_workers(),
        request_timeout_s=timeout,
        max_body_bytes=max_body,
        model_name=model_name,
        drain_timeout_s=drain_timeout,
    )
    assistant = CultureAssistant()
    if warm:
        # One warm process: the first request must not pay for loading.
        components = assistant.components
        components.get_base()
        components.get_experts()
        components.get_detector()
        components.get_retriever()
        components.get_profiles()
    app_ = create_app(assistant, config)
    typer.echo(
        f"manyshores serve on http://{host}:{port}/v1 "
        f"({'keys required' if config.api_keys else 'no API keys'}, queue {config.max_queue}, workers {config.workers})",
        err=True,
    )
    serve_app(app_, host, port, config.drain_timeout_s)


def _default_workers() -> int:
    from manyshores.config import get_settings

    # The in-process model runs one turn at a time; vLLM batches many turns' model work.
    return 32 if get_settings().engine == "vllm" else 1


@bench_app.command("serve")
def bench_serve(
    url: str | None = typer.Option(
        None, help="URL of a running `manyshores serve` or balancer (as `serve` prints it)."
    ),
    conversations: int = typer.Option(32, help="Concurrent conversations."),
    turns: int = typer.Option(5, help="Turns per conversation."),
    postgres: str | None = typer.Option(
        None,
        help="The server's PostgreSQL URL, when it runs on one (recorded as the backend); "
        "with --replicas, the database they share (default: a throwaway cluster).",
    ),
    replicas: int | None = typer.Option(
        None,
        help="Start PostgreSQL, a Chroma server, this many `manyshores serve` replicas and "
        "HAProxy; measure one replica, then all of them.",
    ),
    kill_after: int | None = typer.Option(
        None, help="With --replicas: SIGKILL one replica after this many answered requests."
    ),
    chroma_url: str | None = typer.Option(
        None, help="With --replicas: a running, seeded Chroma server to use instead of one started."
    ),
    workdir: Path | None = typer.Option(
        None, help="With --replicas: where logs and data go (default: a temporary directory)."
    ),
    sequential: bool = typer.Option(
        True, help="Also run one conversation at a time first, for the throughput ratio."
    ),
    api_key: str | None = typer.Option(None, envvar="MANYSHORES_API_KEY", help="Bearer key."),
    out: str | None = typer.Option("bench-serve.json", help="Where to write the JSON report."),
) -> None:
    """Concurrent conversations through the openai client: requests/s, latency, time to first
    token, errors by status, and a check that every thread holds exactly its own turns, in
    order, once (JSON). With --replicas, a replicated deployment is started and measured."""
    from manyshores.errors import InvalidInputError
    from manyshores.serve.bench import run_serve_bench

    if replicas is not None:
        from manyshores.serve.bench_replicas import run_replica_bench

        if url is not None:
            raise InvalidInputError("give --url (a running server) or --replicas, not both")
        report = run_replica_bench(
            replicas,
            conversations=conversations,
            turns=turns,
            kill_after=kill_after,
            workdir=workdir,
            api_key=api_key,
            database_url=postgres,
            chroma_url=chroma_url,
        )
    elif url is None:
        raise InvalidInputError("give --url of a running server, or --replicas N to start some")
    elif kill_after is not None:
        raise InvalidInputError("--kill-after needs --replicas (the replicas this bench starts)")
    else:
        report = run_serve_bench(
            url,
            conversations=conversations,
            turns=turns,
            backend="postgres" if postgres else None,
            sequential=sequential,
            api_key=api_key,
        )
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    typer.echo(json.dumps(report, indent=2))


@bench_app.command("engines")
def bench_engines(
    levels: str = typer.Option("1,8,32", help="Concurrent conversations, comma-separated."),
    turns: int = typer.Option(5, help="Turns per conversation."),
    out: str | None = typer.Option("bench-engines.json", help="Where to write the JSON report."),
    engines: str = typer.Option(
        "inprocess,transformers,vllm",
        help="Engines, comma-separated: inprocess (plain generation on llama.cpp when "
        "installed), transformers (in-process, transformers only), vllm.",
    ),
) -> None:
    """`bench serve` against in-process engines and the vLLM engine (which must be running:
    `manyshores engine start`), side by side at each level: throughput, p95 latency (JSON)."""
    from manyshores.serve.bench_engines import check_engines, run_engines_bench

    chosen = check_engines([e.strip() for e in engines.split(",") if e.strip()])
    report = run_engines_bench(
        [int(x) for x in levels.split(",") if x.strip()], turns, engines=chosen
    )
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    for level, row in report["levels"].items():
        cells = [
            f"{e}: {row[e]['requests_per_s']} req/s, p95 {row[e]['latency_s']['p95']} s"
            for e in chosen
        ]
        ratios = ", ".join(f"vs {e} {r}" for e, r in row["throughput_ratio_vllm_vs"].items())
        typer.echo(f"{level:>3} conversations  {'  |  '.join(cells)}  |  vllm {ratios}")
