"""`manyshores eval blend`: BLEnD short-answer accuracy of base / prompted / rag / task adapters."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import eval_app
from manyshores.config import Settings, get_settings
from manyshores.errors import InvalidInputError


def open_eval_kb(settings: Settings, kb_dir: Path, data: Path, progress: bool):
    """A knowledge base of the BLEnD passages in `data` at `kb_dir` (ingested once).

    The evaluated questions' own passages are in it but never returned for them: every query
    excludes its question id (see `manyshores.eval.runners.blend`).
    """
    from tqdm import tqdm

    from manyshores.memory.ingest import load_blend
    from manyshores.memory.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.open(
        settings.model_copy(update={"chroma_path": kb_dir, "chroma_url": None}),
        collection="blend_eval",
    )
    if kb.count() == 0:
        docs = list(load_blend(data))
        with tqdm(total=len(docs), disable=not progress, desc="ingest BLEnD") as bar:
            kb.add(docs, progress=bar.update)
    return kb


@eval_app.command("blend")
def eval_blend(
    data: Path = typer.Option(..., "--data", help="Directory of BLEnD *.json files."),
    systems: str = typer.Option(
        "base,prompted,rag,task_adapter,task_adapter_rag",
        help="Comma-separated; also joint_adapter, joint_adapter_rag.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Predictions JSONL (re-running resumes)."),
    report_path: Path | None = typer.Option(None, "--json", help="Write the report here."),
    limit: int | None = typer.Option(None, min=1, help="Questions per culture."),
    cultures: str | None = typer.Option(None, help="Comma-separated culture ids (default: all)."),
    task: str = typer.Option("everyday_qa", help="Task whose adapters are evaluated."),
    kb_dir: Path | None = typer.Option(
        None, "--kb", help="Chroma dir, ingested on first use (default home/blend-eval)."
    ),
    kb_data: Path | None = typer.Option(None, help="BLEnD dir to ingest (default: --data)."),
    k: int = typer.Option(3, "--k", min=1, max=20, help="Passages per question for *rag."),
    max_new_tokens: int = typer.Option(24, min=1),
    batch_size: int = typer.Option(8, min=1, help="Questions generated together."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Answer BLEnD questions with each system, score like BLEnD, print the report."""
    from manyshores.errors import ExpertStoreError
    from manyshores.eval.runners.blend import BlendQuestion, load_questions, run_blend
    from manyshores.experts.base_model import load_base_model
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.experts.runner import AdapterRunner

    settings = get_settings()
    names = [s.strip() for s in systems.split(",") if s.strip()]
    if not names:
        raise InvalidInputError("--systems is empty")
    questions = load_questions(data, cultures.split(",") if cultures else None, limit)
    retrieve = None
    if any(s.endswith("rag") for s in names):
        kb = open_eval_kb(
            settings, kb_dir or settings.home_dir / "blend-eval", kb_data or data, progress
        )

        def retrieve(q: BlendQuestion) -> list[str]:
            hits = kb.query(q.question, {q.culture: 1.0}, k, exclude_question_ids={q.id})
            return [h.text for h in hits]

    base = load_base_model(settings=settings)
    registry = ExpertRegistry.from_settings(settings, base)
    runner = AdapterRunner(base, registry)

    def available(expert_id: str) -> bool:
        try:
            registry.info(expert_id)
        except ExpertStoreError:
            return False
        return True

    report = run_blend(
        questions,
        names,
        lambda e, ms: runner.generate_batch(e, ms, max_new_tokens),
        out,
        task=task,
        retrieve=retrieve,
        available=available,
        batch_size=batch_size,
        progress=progress,
    )
    report["settings"] = {
        "data": str(data),
        "systems": names,
        "limit": limit,
        "task": task,
        "k": k,
        "base_model": settings.base_model,
        "questions": len(questions),
    }
    text = json.dumps(report, indent=2)
    if report_path is not None:
        report_path.write_text(text + "\n")
    typer.echo(text)
