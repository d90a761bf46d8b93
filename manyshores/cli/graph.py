"""`manyshores ask`, `manyshores chat` and `manyshores trace`."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from manyshores.cli.app import app, bench_app

console = Console()
err_console = Console(stderr=True)


def _assistant(message: str | None = None) -> Any:
    from manyshores.components import Components
    from manyshores.graph.warm import warm_up

    components = Components()
    # Models load in the background while the graph is imported and built (and, in `chat`,
    # while the person types): the first turn no longer loads them node after node. With the
    # message known, only what its turn can use.
    warm_up(components, message)
    from manyshores.graph.assistant import CultureAssistant

    return CultureAssistant(components)


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
    for i, source in enumerate(data["sources"][:6], start=1):  # [i] as the reply cites them
        console.print(
            f"[dim]  \\[{i}] {source['ref']}: {source['snippet'][:90]}[/dim]", highlight=False
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


MAX_INPUT_BYTES = 4_000_000
"""Larger inputs are refused before reading them whole (the graph keeps 16,000 characters)."""


def read_message(text: str | None, file: Path | None) -> str:
    """The message from the argument, `--file`, or standard input (`-` or no argument).

    Bytes are decoded as UTF-8; anything else (binary data, another encoding) is a clear
    error before any model work.
    """
    from manyshores.content import check_message_text
    from manyshores.errors import InvalidInputError

    if text is not None and text != "-" and file is not None:
        raise InvalidInputError("give the message as an argument or with --file, not both")
    if file is not None:
        try:
            with file.open("rb") as fh:
                raw = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise InvalidInputError(f"cannot read {file}: {exc.strerror or exc}") from exc
        where = str(file)
    elif text is None or text == "-":
        if text is None and sys.stdin.isatty():
            raise InvalidInputError("no message: pass it as an argument, with --file, or on stdin")
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        where = "standard input"
    else:
        return check_message_text(text)
    if len(raw) > MAX_INPUT_BYTES:
        raise InvalidInputError(f"{where}: more than {MAX_INPUT_BYTES:,} bytes; send a question")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{where} is not UTF-8 text (byte {exc.start}): send the question as plain text"
        ) from exc
    return check_message_text(decoded)


@app.command()
def ask(
    text: str | None = typer.Argument(
        None, help="The message; '-' or nothing reads standard input."
    ),
    file: Path | None = typer.Option(None, "--file", "-f", help="Read the message from a file."),
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
    message = read_message(text, file)
    if server:
        from manyshores.serve.client import ask_server

        data = ask_server(server, message, thread_id=thread, culture=culture, user_id=user)
        if as_json:
            typer.echo(json.dumps(data, ensure_ascii=False))
        else:
            print_turn(_Remote(data))
            console.print(f"[dim]thread: {data['thread_id']}[/dim]")
        return
    result = _assistant(message).invoke(message, thread_id=thread, culture=culture, user_id=user)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print_turn(result)
        console.print(f"[dim]thread: {result.thread_id}[/dim]")


def turn_time(started: float, first: float | None) -> str:
    """`2.1s` for a turn, `2.1s (first words 0.4s)` when its answer was streamed."""
    total = f"{time.perf_counter() - started:.1f}s"
    return f"{total} (first words {first - started:.1f}s)" if first is not None else total


@app.command()
def chat(thread: str | None = typer.Option(None, help="Thread id to continue.")) -> None:
    """Multi-turn chat. Commands: /culture ID, /trace, /new, /quit."""
    assistant = _assistant()
    thread_id = thread or uuid.uuid4().hex[:12]
    culture: str | None = None
    console.print(f"[dim]thread {thread_id} — /culture ID, /trace, /new, /quit[/dim]")
    from manyshores.errors import ManyshoresError

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
            waiting = assistant.graph.get_state(assistant._config(thread_id)).interrupts
            if len(parts) > 1:
                try:  # validated now, not on every later message
                    wanted = assistant.components.get_detector().normalize(parts[1])
                except ManyshoresError as exc:
                    console.print(f"[red]error: {exc}[/red]")
                    continue
            else:
                wanted = None
            if waiting and wanted:  # the answer to "which culture?": for this turn only
                print_turn(assistant.resume(thread_id, wanted))
                continue
            culture = wanted
            console.print(
                f"[dim]your culture: {culture} (a culture named in a message still sets its "
                "topic)[/dim]"
                if culture
                else "[dim]your culture: not set (detected from each message)[/dim]"
            )
            continue
        started = time.perf_counter()
        first: float | None = None
        streamed: list[str] = []
        try:
            steps: list[str] = []
            for event in assistant.stream(
                line,
                thread_id=thread_id,
                user_culture=culture or "",
                confirm_culture=culture is None,
            ):
                if event.node == "token":  # a lone generating expert: show its words as they come
                    first = first or time.perf_counter()
                    streamed.append(event.update["text"])
                    console.print(event.update["text"], end="", style="bold", highlight=False)
                elif event.is_step:
                    steps.append(event.node)
            result = assistant.result(thread_id, steps)
        except ManyshoresError as exc:
            console.print(f"[red]error: {exc}[/red]")
            continue
        shown, answer = "".join(streamed), result.answer or ""
        # A stream is the reply's beginning: what the reply adds (a closing line) follows it.
        continued = first is not None and answer.startswith(shown.rstrip())
        if continued:
            rest = answer[len(shown) :] if answer.startswith(shown) else ""
            console.print(rest, style="bold", highlight=False)
        elif first is not None:
            console.print()
        if result.interrupt:
            candidates = ", ".join(result.interrupt.get("candidates", []))
            console.print(
                f"[yellow]{result.interrupt['question']} ({candidates}) — "
                f"answer with /culture ID[/yellow]"
            )
            continue
        print_turn(result, show_answer=not continued)
        console.print(f"[dim]{turn_time(started, first)}[/dim]", highlight=False)


def _print_trace(steps: list[Any]) -> None:
    """Per turn: message, cultures, experts, answer and sources, then each node's duration."""
    from rich.markup import escape

    from manyshores.graph.trace import shorten, summarize_turns

    width = max(40, min(console.width, 120) - 12)
    for summary in summarize_turns(steps):
        total = sum(seconds for _, _, seconds in summary.nodes)
        console.print(f"[bold]turn {summary.turn}[/bold]  [dim]{total * 1000:,.0f} ms[/dim]")
        cultures = ", ".join(f"{cid} p={p:.2f}" for cid, p in summary.cultures) or "-"
        if summary.flags:
            cultures += f" ({', '.join(summary.flags)})"
        experts = ", ".join(
            cid if weight is None else f"{cid} ({weight:.2f})" for cid, weight in summary.experts
        )
        rows = [
            ("message", shorten(summary.message, width)),
            *([("read as", shorten(summary.read_as, width))] if summary.read_as else []),
            ("culture", cultures),
            ("task", summary.task or "-"),
            ("experts", experts or "-"),
            ("answer", shorten(summary.answer, width) or "-"),
            *(
                [
                    (
                        "lead",
                        f"{summary.wording}"
                        + (
                            f", confidence {summary.confidence:.2f}"
                            if summary.confidence is not None
                            else ""
                        ),
                    )
                ]
                if summary.wording
                else []
            ),  # fmt: skip
            ("sources", "; ".join(summary.sources[:3]) or "none"),
        ]
        if len(summary.sources) > 3:
            rows[-1] = (rows[-1][0], f"{rows[-1][1]} (+{len(summary.sources) - 3} more)")
        rows += [("note", shorten(note, width)) for note in summary.notes]
        for label, value in rows:
            console.print(f"  [cyan]{label:<8}[/cyan] {escape(shorten(value, width))}")
        for index, node, seconds in summary.nodes:
            console.print(f"    [dim]#{index:<3}[/dim] {node:<10} {seconds * 1000:>10,.1f} ms")
    console.print("[dim]`manyshores trace THREAD --step N` shows step #N whole[/dim]")


@app.command()
def trace(
    thread: str = typer.Argument(..., help="Thread id."),
    step: int | None = typer.Option(None, help="Show this step's full read/write state diff."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every step of a thread in order (node, duration, what it read and wrote)."""
    from manyshores.components import Components
    from manyshores.errors import InvalidInputError
    from manyshores.graph.assistant import CultureAssistant

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
    otel_endpoint: str | None = typer.Option(
        None, help="Also run the turns with OpenTelemetry export to this OTLP/HTTP URL."
    ),
) -> None:
    """Per-turn overhead of the graph itself, beside the model forward passes (JSON)."""
    from pathlib import Path

    from manyshores.eval.bench.graph import run_graph_bench

    report = run_graph_bench(
        turns=turns, out=Path(out) if out else None, otel_endpoint=otel_endpoint
    )
    typer.echo(json.dumps(report, indent=2))


@bench_app.command("turn")
def bench_turn(
    repeats: int = typer.Option(5, min=1, help="Warm turns of each kind."),
    cold_runs: int = typer.Option(1, min=0, help="New processes timed to their first token."),
    llama: bool = typer.Option(True, help="Compare with llama.cpp when it is installed."),
    out: str | None = typer.Option("bench-turn.json", help="Where to write the JSON report."),
) -> None:
    """Whole turns on the default model: warm/cold, p50/p95, first token, tokens/s (JSON)."""
    from pathlib import Path

    from manyshores.eval.bench.turn import run_turn_bench

    report = run_turn_bench(
        repeats=repeats, cold_runs=cold_runs, llama=llama, out=Path(out) if out else None
    )
    typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
