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
) -> None:
    """Serve the culture graph as an OpenAI-compatible API (POST /v1/chat/completions).

    API keys: MANYSHORES_API_KEYS=key1,key2 (without it, no authentication). Checkpoints and
    profiles: MANYSHORES_CHECKPOINT_DB (SQLite) or MANYSHORES_CHECKPOINT_URL (PostgreSQL).
    """
    import uvicorn

    from manyshores.graph.assistant import CultureAssistant
    from manyshores.serve import ServeConfig, create_app

    config = ServeConfig.from_env(
        max_queue=max_queue,
        workers=workers or _default_workers(),
        request_timeout_s=timeout,
        max_body_bytes=max_body,
        model_name=model_name,
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
    typer.echo(
        f"manyshores serve on http://{host}:{port}/v1 "
        f"({'keys required' if config.api_keys else 'no API keys'}, queue {config.max_queue}, workers {config.workers})",
        err=True,
    )
    uvicorn.run(create_app(assistant, config), host=host, port=port, log_level="warning")


def _default_workers() -> int:
    from manyshores.config import get_settings

    # The in-process model runs one turn at a time; vLLM batches many turns' model work.
    return 32 if get_settings().engine == "vllm" else 1


@bench_app.command("serve")
def bench_serve(
    url: str = typer.Option(..., help="Base URL of a running `manyshores serve`."),
    conversations: int = typer.Option(32, help="Concurrent conversations."),
    turns: int = typer.Option(5, help="Turns per conversation."),
    postgres: str | None = typer.Option(
        None,
        help="The server's PostgreSQL URL, when it runs on one (recorded as the backend).",
    ),
    sequential: bool = typer.Option(
        True, help="Also run one conversation at a time first, for the throughput ratio."
    ),
    api_key: str | None = typer.Option(None, envvar="MANYSHORES_API_KEY", help="Bearer key."),
    out: str | None = typer.Option("bench-serve.json", help="Where to write the JSON report."),
) -> None:
    """Concurrent conversations through the openai client: requests/s, latency, time to first
    token, errors by kind, and a check that every thread holds exactly its own turns (JSON)."""
    from manyshores.serve.bench import run_serve_bench

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
