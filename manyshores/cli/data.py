"""`manyshores data synthesize` and `manyshores data train-adapter` (CultureManager)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import data_app
from manyshores.config import get_settings
from manyshores.errors import InvalidInputError


def blend_question_ids(directory: Path) -> frozenset[str]:
    """Every question id in a directory of BLEnD files (kept out of grounding)."""
    from manyshores.blend_files import blend_rows

    return frozenset(str(row["id"]) for row in blend_rows(directory))


@data_app.command("synthesize")
def synthesize_cmd(
    culture: str = typer.Option(..., "--culture", "-c", help="Culture id (MEX, KOR, IN-AS...)."),
    task: str = typer.Option(..., "--task", "-t", help="Task name, e.g. everyday_qa, food_qa."),
    fmt: str = typer.Option(
        "short_answer",
        "--format",
        "-f",
        help="short_answer | multiple_choice | classification | survey.",
    ),
    n: int = typer.Option(100, "--n", min=1, help="Examples to keep."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL output (re-running resumes it)."),
    rounds: int = typer.Option(1, min=1, help="Examples asked per passage."),
    english_only: bool = typer.Option(False, help="Skip the queries in the culture's language."),
    use_kb: bool = typer.Option(True, "--kb/--no-kb", help="Also ground in the knowledge base."),
    exclude_questions: Path | None = typer.Option(
        None,
        help="BLEnD directory whose question ids must not ground examples (evaluated ones).",
    ),
    teacher: str | None = typer.Option(
        None, help="`base` or `provider:model` (overrides the teacher_model setting)."
    ),
    k: int = typer.Option(4, "--k", min=1, max=20, help="Passages per source and query."),
    batch_size: int = typer.Option(
        8, min=1, help="Teacher requests generated together (local base model teacher)."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Synthesise grounded, validated examples in a task's format; prints the run report."""
    from manyshores.synthesis import PassageSources, SynthesisRequest, synthesize
    from manyshores.synthesis.teacher import teacher_from_settings
    from manyshores.synthesis.validate import FORMATS
    from manyshores.web.search import WebSearcher

    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    settings = get_settings()
    if teacher is not None:
        settings = settings.model_copy(update={"teacher_model": teacher})
    kb = None
    if use_kb:
        from manyshores.memory.knowledge_base import KnowledgeBase

        kb = KnowledgeBase.open(settings)
    excluded = blend_question_ids(exclude_questions) if exclude_questions else frozenset()
    sources = PassageSources(WebSearcher.from_settings(settings), kb, k, excluded)
    request = SynthesisRequest(
        culture.upper(),
        task,
        fmt,
        n,
        out,
        rounds=rounds,
        languages=1 if english_only else 2,
    )
    report = synthesize(
        request,
        teacher_from_settings(settings),
        sources,
        progress=progress,
        batch_size=batch_size,
    )
    typer.echo(json.dumps({"out": str(out), **report.as_dict()}, indent=2))
    if report.exhausted:
        typer.echo(
            f"warning: passages ran out at {report.kept}/{n}: raise --rounds or --k, "
            "add a Tavily key or knowledge-base documents",
            err=True,
        )


def read_examples(paths: list[Path]) -> list[dict]:
    rows: list[dict] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InvalidInputError(f"cannot read {path}: {exc}") from exc
        rows.extend(json.loads(line) for line in lines if line.strip())
    return rows


@data_app.command("train-adapter")
def train_adapter_cmd(
    data: list[Path] = typer.Option(..., "--data", "-d", help="Synthesised JSONL (repeatable)."),
    culture: str = typer.Option(..., "--culture", "-c", help="Culture id, or `*` for joint."),
    task: str = typer.Option(..., "--task", "-t", help="Task the adapter serves."),
    # A light touch by default (one epoch at lr 3e-4, every example with notes): stronger
    # training taught the 135M model to answer one phrase and ignore the notes (README).
    epochs: int = typer.Option(1, min=1),
    rank: int = typer.Option(8, min=1),
    lr: float = typer.Option(3e-4),
    batch_size: int = typer.Option(8, min=1),
    seed: int = typer.Option(0),
    patience: int = typer.Option(
        1, min=1, help="Epochs without a better held-out loss before stopping."
    ),
    context_share: float = typer.Option(
        1.0, min=0.0, max=1.0, help="Share of examples trained with background notes."
    ),
    notes_kb: Path | None = typer.Option(
        None,
        help="Chroma dir (as `eval blend --kb`): noted examples get its top passages for their "
        "question, like `task_adapter_rag` at evaluation, instead of their source passage.",
    ),
    notes_kb_data: Path | None = typer.Option(
        None, help="BLEnD dir ingested into --notes-kb on first use (as `eval blend --kb-data`)."
    ),
    notes_k: int = typer.Option(3, min=1, max=20, help="Passages per noted example."),
    out_dir: Path | None = typer.Option(None, help="Expert store (default: the user store)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Train the (culture, task) LoRA adapter on synthesised data; prints its id and metrics.

    With --notes-kb the notes leave out the BLEnD question an example was grounded in (its
    source URL names it), as the evaluation leaves out the evaluated question's annotations."""
    from manyshores.experts.lora.config import LoraExpertConfig
    from manyshores.experts.task_adapters import TaskAdapterConfig, train_task_adapter
    from manyshores.runtime.base_model import load_base_model

    settings = get_settings()
    examples = read_examples(data)
    if culture != "*":
        examples = [e for e in examples if e.get("culture", culture) == culture]
    cfg = TaskAdapterConfig(
        lora=LoraExpertConfig(
            r=rank, alpha=2 * rank, epochs=epochs, lr=lr, seed=seed, patience=patience
        ),
        batch_size=batch_size,
        context_share=context_share,
    )
    notes = None
    if notes_kb is not None:
        from manyshores.cli.blend import open_eval_kb
        from manyshores.experts.task_adapters import source_question_ids

        if notes_kb_data is None:
            raise InvalidInputError("--notes-kb needs --notes-kb-data (the BLEnD dir it holds)")
        kb = open_eval_kb(settings, notes_kb, notes_kb_data, progress)
        known = blend_question_ids(notes_kb_data)

        def notes(ex: dict, own: str) -> list[str]:
            skip = source_question_ids(ex, known)
            hits = kb.query(str(ex["question"]), {own: 1.0}, notes_k, exclude_question_ids=skip)
            return [h.text for h in hits]

    result = train_task_adapter(
        load_base_model(settings=settings),
        examples,
        culture=culture,
        task=task,
        root=out_dir or settings.user_experts_dir,
        config=cfg,
        progress=progress,
        notes=notes,
    )
    typer.echo(
        json.dumps(
            {"expert": result.expert_id, "path": str(result.path), **result.metrics}, indent=2
        )
    )


@data_app.command("split-blend")
def split_blend_cmd(
    data: Path = typer.Option(..., "--data", help="Directory of BLEnD *.json files."),
    train_out: Path = typer.Option(..., help="Where the synthesis/knowledge-base half goes."),
    eval_out: Path = typer.Option(..., help="Where the evaluation half goes."),
    eval_share: float = typer.Option(0.3, min=0.05, max=0.95, help="Share of question ids."),
) -> None:
    """Split BLEnD by question id (same split in every culture), for leak-free experiments.

    Ingest and synthesise from the train half, evaluate on the eval half: no evaluated question's
    annotations can reach the knowledge base, the synthesised data or the adapters.
    """
    from manyshores.blend_files import read_blend_dir
    from manyshores.evidence.bank import is_eval_id

    counts = {"train": 0, "eval": 0}
    for directory in (train_out, eval_out):
        directory.mkdir(parents=True, exist_ok=True)
    for path, rows in read_blend_dir(data):
        for name, directory, keep in (("train", train_out, False), ("eval", eval_out, True)):
            part = [r for r in rows if is_eval_id(str(r["id"]), eval_share) == keep]
            counts[name] += len(part)
            text = json.dumps(part, ensure_ascii=False, indent=1)
            (directory / path.name).write_text(text + "\n", encoding="utf-8")
    typer.echo(json.dumps({"rows": counts, "eval_share": eval_share}))
