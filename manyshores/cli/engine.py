"""`manyshores engine start|stop|status`: the vLLM server the `vllm` engine talks to."""

from __future__ import annotations

import json

import typer

from manyshores.cli.app import engine_app


@engine_app.command("start")
def engine_start(
    port: int | None = typer.Option(None, help="Loopback port (default: a free one)."),
    wait: float = typer.Option(300.0, help="Seconds to wait for the server to become healthy."),
) -> None:
    """Start vLLM on loopback with the base model and the store's LoRA experts (needs
    `make engine`); then `MANYSHORES_ENGINE=vllm` sends expert model work to it."""
    from manyshores.config import get_settings
    from manyshores.experts.vllm.server import start

    state = start(get_settings(), port=port, wait_s=wait)
    typer.echo(
        f"vLLM engine on {state.url} (pid {state.pid}; adapters: {', '.join(state.adapters)})"
    )
    typer.echo("use it: export MANYSHORES_ENGINE=vllm", err=True)


@engine_app.command("stop")
def engine_stop() -> None:
    """Stop the server `engine start` ran."""
    from manyshores.config import get_settings
    from manyshores.experts.vllm.server import stop

    typer.echo("stopped" if stop(get_settings()) else "no vLLM engine was running")


@engine_app.command("status")
def engine_status() -> None:
    """The engine in use, the server's URL, whether it answers, and the models it serves (JSON)."""
    from manyshores.config import get_settings
    from manyshores.experts.vllm.server import status

    typer.echo(json.dumps(status(get_settings()), indent=2))
