"""`manyshores ask`, `manyshores chat` and `manyshores trace`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from manyshores.cli.app import app, bench_app

console = Console()
err_console = Console(stderr=True)


def _assistant() -> Any:
    from manyshores.graph.assistant import CultureAssistant

    return CultureAssistant()


def print_turn(result: Any, show_answer: bool = True) -> None:
    """Human-readable view of one turn: answer, cultures, experts, sources."""
    data = result.to_json()
    if show_answer:
        console.print(f"[bold]{data['answer'] or '(no answer)'}[/bold]", highlight=False)
    cultures = ", ".join(f"{c['id']} {c['p']:.2f}" for c in data["cultures"][:3]) or "unknown"
    flag = " [yellow](ambiguous)[/yellow]" if data["ambiguous"] else ""
    console.print(f"[dim]culture:[/dim] {cultures}{flag}   [dim]task:[/dim] {data['task']}")
    experts = ", ".join(f"{e['id']} ×{e['weight']:.2f}" for e in data["experts"]) or "none"
    console.print(f"[dim]experts:[/dim] {experts}")
    for option in data["options"]:
        console.print(f"[dim]  {option['p']:.2f}  {option['text']}[/dim]", highlight=False)
    for source in data["sources"][:5]:
        console.print(
            f"[dim]  [{source['kind']}] {source['ref']}: {source['snippet'][:90]}[/dim]",
            highlight=False,
        )
    for note in result.values.get("notes", [])[-3:]:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)


class _Remote:
    """A server's `manyshores` object, shaped like a `TurnResult` for `print_turn`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.values: dict[str, Any] = {"notes": []}

    def to_json(self) -> dict[str, Any]:
        return self.data


@app.command()
def ask(
    text: str = typer.Argument(..., help="The message."),
    culture: str | None = typer.Option(None, help="Culture id to answer for (else detected)."),
    thread: str | None = typer.Option(None, help="Conversation thread id (continues it)."),
    user: str | None = typer.Option(None, help="User id for the long-term culture profile."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object."),
    server: str | None = typer.Option(
        None,
        "--server",
        envvar="MANYSHORES_SERVER",
        help="URL of a running `manyshores serve` to ask instead of loading the model here.",
    ),
) -> None:
    """Ask one question through the whole culture graph."""
    if server:
        from manyshores.serve.client import ask_server

        data = ask_server(server, text, thread_id=thread, culture=culture, user_id=user)
        if as_json:
            typer.echo(json.dumps(data, ensure_ascii=False))
        else:
            print_turn(_Remote(data))
            console.print(f"[dim]thread: {data['thread_id']}[/dim]")
        return
    result = _assistant().invoke(text, thread_id=thread, culture=culture, user_id=user)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print_turn(result)
        console.print(f"[dim]thread: {result.thread_id}[/dim]")


@app.command()
def chat(thread: str | None = typer.Option(None, help="Thread id to continue.")) -> None:
    """Multi-turn chat. Commands: /culture ID, /trace, /new, /quit."""
    assistant = _assistant()
    thread_id = thread or uuid.uuid4().hex[:12]
    culture: str | None = None
    console.print(f"[dim]thread {thread_id} — /culture ID, /trace, /new, /quit[/dim]")
    while True:
        try:
            line = console.input("[bold cyan]you> [/bold cyan]").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/new":
            thread_id, culture = uuid.uuid4().hex[:12], None
            console.print(f"[dim]new thread {thread_id}[/dim]")
            continue
        if line == "/trace":
            _print_trace(assistant.trace(thread_id))
            continue
        if line.startswith("/culture"):
            parts = line.split()
            culture = parts[1] if len(parts) > 1 else None
            waiting = assistant.graph.get_state(assistant._config(thread_id)).interrupts
            if waiting and culture:
                print_turn(assistant.resume(thread_id, culture))
            console.print(f"[dim]culture: {culture or 'detected'}[/dim]")
            continue
        from manyshores.errors import ManyshoresError

        try:
            result = assistant.invoke(
                line, thread_id=thread_id, culture=culture, confirm_culture=culture is None
            )
        except ManyshoresError as exc:
            console.print(f"[red]error: {exc}[/red]")
            continue
        if result.interrupt:
            candidates = ", ".join(result.interrupt.get("candidates", []))
            console.print(
                f"[yellow]{result.interrupt['question']} ({candidates}) — "
                f"answer with /culture ID[/yellow]"
            )
            continue
        print_turn(result)


def _print_trace(steps: list[Any]) -> None:
    table = Table(title="trace")
    for col in ("#", "turn", "node", "ms", "wrote"):
        table.add_column(col)
    for s in steps:
        keys = ", ".join(sorted(s.wrote)) or "-"
        table.add_row(str(s.index), str(s.turn), s.node, f"{s.seconds * 1000:.1f}", keys)
    console.print(table)


@app.command()
def trace(
    thread: str = typer.Argument(..., help="Thread id."),
    step: int | None = typer.Option(None, help="Show this step's full read/write state diff."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every step of a thread in order (node, duration, what it read and wrote)."""
    from manyshores.errors import InvalidInputError
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.graph.components import Components

    # Reading a trace never needs a model: components stay unbuilt.
    steps = CultureAssistant(Components()).trace(thread)
    if step is not None:
        if not 0 <= step < len(steps):
            raise InvalidInputError(f"thread '{thread}' has steps 0-{len(steps) - 1}, not {step}")
        data = steps[step].to_dict()
        if as_json:
            typer.echo(json.dumps(data, ensure_ascii=False, default=str))
        else:
            console.print_json(json.dumps(data, ensure_ascii=False, default=str))
        return
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in steps], ensure_ascii=False, default=str))
    else:
        _print_trace(steps)


@bench_app.command("graph")
def bench_graph(
    turns: int = typer.Option(20, help="Measured turns."),
    out: str | None = typer.Option("bench-graph.json", help="Where to write the JSON report."),
) -> None:
    """Per-turn overhead of the graph itself, beside the model forward passes (JSON)."""
    from pathlib import Path

    from manyshores.graph.bench import run_graph_bench

    report = run_graph_bench(turns=turns, out=Path(out) if out else None)
    typer.echo(json.dumps(report, indent=2))
