"""The Typer apps every CLI module attaches its commands to (kept apart to avoid import cycles)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="manyshores",
    help="Culture-aware answers from one base model and a committee of culture experts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(
    help="Evaluate detection, retrieval and survey alignment.", no_args_is_help=True
)
bench_app = typer.Typer(
    help="Benchmarks that print side-by-side ratios and write JSON.", no_args_is_help=True
)
experts_app = typer.Typer(
    help="List, inspect, train and remove culture experts.", no_args_is_help=True
)
kb_app = typer.Typer(help="The cultural knowledge base (Chroma).", no_args_is_help=True)
profile_app = typer.Typer(help="Long-term user culture profiles.", no_args_is_help=True)
data_app = typer.Typer(help="Synthesise task-aware cultural training data.", no_args_is_help=True)

engine_app = typer.Typer(
    help="The vLLM server that MANYSHORES_ENGINE=vllm sends expert model work to.",
    no_args_is_help=True,
)

app.add_typer(eval_app, name="eval")
app.add_typer(engine_app, name="engine")
app.add_typer(bench_app, name="bench")
app.add_typer(experts_app, name="experts")
app.add_typer(kb_app, name="kb")
app.add_typer(profile_app, name="profile")
app.add_typer(data_app, name="data")
