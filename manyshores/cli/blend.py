"""`manyshores eval blend`: BLEnD short-answer accuracy of base / prompted / rag / task adapters."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import eval_app
from manyshores.config import Settings, get_settings
from manyshores.errors import InvalidInputError


def open_eval_kb(
    settings: Settings,
    kb_dir: Path,
    data: Path,
    progress: bool,
    question_ids: set[str] | None = None,
):
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
        docs = list(load_blend(data, question_ids=question_ids))
        with tqdm(total=len(docs), disable=not progress, desc="ingest BLEnD") as bar:
            kb.add(docs, progress=bar.update)
    return kb


@eval_app.command("blend")
def eval_blend(
    data: Path = typer.Option(..., "--data", help="Directory of BLEnD *.json files."),
    systems: str = typer.Option(
        "base,prompted,rag,task_adapter,task_adapter_rag",
        help="Comma-separated; also joint_adapter, joint_adapter_rag, and graph (the whole "
        "default graph, as `ask` answers).",
    ),
    language: str = typer.Option(
        "en", help="Ask in English (en), the culture's language (local), or both."
    ),
    split: str = typer.Option(
        "all",
        help="all: every question; eval: only the evaluation half of the question ids "
        "(`data split-blend`'s rule), with nothing built from it reachable.",
    ),
    eval_part: str = typer.Option(
        "all",
        "--part",
        help="With --split eval: all, tune or held-out part of the evaluation half (the evidence "
        "wording is tuned on `tune`, never on `held-out`; the whole half stays out of reach).",
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
    from manyshores.evidence.bank import is_eval_id
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.experts.runner import AdapterRunner
    from manyshores.runtime.base_model import load_base_model

    settings = get_settings()
    names = [s.strip() for s in systems.split(",") if s.strip()]
    if not names:
        raise InvalidInputError("--systems is empty")
    if language not in ("en", "local", "both"):
        raise InvalidInputError(f"--language must be en, local or both, not {language!r}")
    if split not in ("all", "eval"):
        raise InvalidInputError(f"--split must be all or eval, not {split!r}")
    languages = ["en", "local"] if language == "both" else [language]
    questions = load_questions(data, cultures.split(",") if cultures else None)
    if split == "eval":
        questions = [q for q in questions if is_eval_id(q.id)]
    if eval_part != "all":
        from manyshores.eval.runners.blend_graph import part_of

        if eval_part not in ("tune", "held-out") or split != "eval":
            raise InvalidInputError("--part tune or held-out needs --split eval")
        questions = [q for q in questions if part_of(q.id) == eval_part]
    questions = _first_per_culture(questions, limit)
    report: dict = {}
    asked_systems = list(names)
    if "graph" in names:
        report["graph"] = _eval_graph(settings, data, questions, languages, split, out, progress)
        names = [n for n in names if n != "graph"]
        if not names:
            _print_report(
                report, data, asked_systems, limit, task, k, settings, questions, report_path
            )
            return
    train_ids = None
    if split == "eval":  # the rag knowledge base holds the other half only
        from manyshores.eval.datasets.blend import load_questions as _all

        train_ids = {q.id for q in _all(kb_data or data) if not is_eval_id(q.id)}
    retrieve = None
    if any(s.endswith("rag") for s in names):
        default_dir = "blend-eval-train" if train_ids is not None else "blend-eval"
        kb = open_eval_kb(
            settings,
            kb_dir or settings.home_dir / default_dir,
            kb_data or data,
            progress,
            question_ids=train_ids,
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

    for lang in languages:
        asked = questions if lang == "en" else _local_questions(questions)
        path = out if lang == "en" else out.with_name(f"{out.stem}-local{out.suffix}")
        part = run_blend(
            asked,
            names,
            lambda e, ms: runner.generate_batch(e, ms, max_new_tokens),
            path,
            task=task,
            retrieve=retrieve,
            available=available,
            batch_size=batch_size,
            progress=progress,
        )
        if lang == "en":
            report.update(part)
        else:  # the same systems asked in the culture's own language
            report["local"] = {
                "systems": part["systems"],
                "paired": part.get("paired", {}),
                "skipped": part["skipped"],
            }
    _print_report(report, data, asked_systems, limit, task, k, settings, questions, report_path)


def _first_per_culture(questions: list, limit: int | None) -> list:
    if limit is None:
        return questions
    taken: dict[str, int] = {}
    out = []
    for q in questions:
        if taken.get(q.culture, 0) < limit:
            taken[q.culture] = taken.get(q.culture, 0) + 1
            out.append(q)
    return out


def _local_questions(questions: list) -> list:
    """The same questions asked in the culture's language (one with no local form is kept, and
    counted as skipped by the run)."""
    from dataclasses import replace

    return [replace(q, question=q.local_question) for q in questions]


def _eval_graph(settings, data, questions, languages, split, out, progress) -> dict:
    """Every question through the default graph, evaluated ids out of the evidence."""
    import tempfile

    from manyshores.detection.language import LanguageIdentifier
    from manyshores.eval.jsonl import read_jsonl as read_predictions
    from manyshores.eval.runners.blend_graph import (
        evaluation_components,
        graph_answerer,
        run_graph,
        score_graph,
    )
    from manyshores.evidence.bank import is_eval_id

    if split == "eval":
        from manyshores.eval.datasets.blend import load_questions as _all

        exclude = {q.id for q in _all(data) if is_eval_id(q.id)}
    else:
        exclude = {q.id for q in questions}
    identifier = LanguageIdentifier()

    def language_of(text: str) -> str | None:
        guess = identifier.identify(text)
        return guess.lang if guess is not None and guess.confidence >= 0.5 else None

    with tempfile.TemporaryDirectory(prefix="manyshores-eval-") as home:
        components = evaluation_components(settings, exclude, Path(home))
        skipped = run_graph(
            questions, languages, graph_answerer(components), out, progress=progress
        )
    report = score_graph(read_predictions(out, resume=True), questions, language_of)
    report["skipped"] = skipped
    return report


def _print_report(report, data, names, limit, task, k, settings, questions, report_path) -> None:
    report["settings"] = {
        "data": str(data),
        "systems": names,
        "limit": limit,
        "task": task,
        "k": k,
        "base_model": settings.base_model,
        "chat_model": settings.chat_model,
        "questions": len(questions),
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if report_path is not None:
        report_path.write_text(text + "\n")
    typer.echo(text)
