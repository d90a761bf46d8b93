"""`manyshores kb init|ingest|query|stats`, `manyshores eval kb|kb-blend`, `manyshores bench kb`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from manyshores.cli.app import bench_app, eval_app, kb_app
from manyshores.config import get_settings
from manyshores.errors import InvalidInputError

err = Console(stderr=True)
T = TypeVar("T")

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _detector() -> Any | None:
    """The culture detector when it is installed (detection is a sibling component)."""
    try:
        from manyshores.detection import CultureDetector
    except ImportError:
        return None
    return CultureDetector.from_settings(get_settings())


def detect_culture_guess() -> Callable[[str], str | None] | None:
    """text → most likely culture id (None when unsure), or None without a detector."""
    detector = _detector()
    if detector is None:
        return None

    def guess(text: str) -> str | None:
        post = detector.detect(text)
        if post.get("unknown") or not post.get("cultures"):
            return None
        top = post["cultures"][0]
        return str(top["id"]) if float(top["p"]) >= 0.5 else None

    return guess


def detect_culture_posterior() -> Callable[[str], dict[str, float] | None] | None:
    detector = _detector()
    if detector is None:
        return None

    def posterior(text: str) -> dict[str, float] | None:
        post = detector.detect(text)
        if post.get("unknown") or not post.get("cultures"):
            return None
        return {c["id"]: float(c["p"]) for c in post["cultures"]}

    return posterior


def _ingest(kb: Any, label: str, docs: Iterable[Any]) -> dict[str, Any]:
    items = list(docs)
    with _progress() as progress:
        task = progress.add_task(label, total=len(items))
        report = kb.add(items, progress=lambda n: progress.advance(task, n))
    return {
        "source": label,
        "documents": len(items),
        "added": report.added,
        "skipped": report.skipped,
    }


@kb_app.command("ingest")
def kb_ingest(
    path: Path | None = typer.Argument(None, help="A .jsonl/.md/.txt file or a directory of them."),
    culture: str | None = typer.Option(
        None, "--culture", "-c", help="Culture id of the texts (else detected)."
    ),
    lang: str = typer.Option("en", help="Language of the texts (ISO 639-1)."),
    blend: Path | None = typer.Option(None, "--blend", help="A directory of BLEnD *.json files."),
    wvs: Path | None = typer.Option(
        None, "--wvs", help="A WVS directory (questions.json + SPLIT.json)."
    ),
    split: str = typer.Option("train", help="WVS split to turn into statements."),
) -> None:
    """Add documents to the knowledge base (ingesting the same data twice adds nothing)."""
    from manyshores.memory.ingest import load_blend, load_path, load_wvs
    from manyshores.memory.knowledge_base import KnowledgeBase

    if path is None and blend is None and wvs is None:
        raise InvalidInputError("give a PATH, --blend DIR or --wvs DIR")
    kb = KnowledgeBase.open(get_settings())
    reports = []
    if path is not None:
        detect = None if culture else detect_culture_guess()
        if culture is None and detect is None:
            raise InvalidInputError("--culture is required (culture detection is not installed)")
        if culture:
            culture = _normalize(culture)
        reports.append(_ingest(kb, str(path), load_path(path, culture, lang=lang, detect=detect)))
    if blend is not None:
        reports.append(_ingest(kb, f"BLEnD {blend}", load_blend(blend)))
    if wvs is not None:
        reports.append(_ingest(kb, f"WVS {wvs} ({split})", load_wvs(wvs, split)))
    typer.echo(
        json.dumps({"store": kb.location, "ingested": reports, "total": kb.count()}, indent=2)
    )


def _normalize(culture: str) -> str:
    detector = _detector()
    if detector is None:
        return culture.strip().upper()
    return str(detector.normalize(culture))


@kb_app.command("init")
def kb_init(
    force: bool = typer.Option(False, help="Re-check every shipped document even when seeded."),
    wvs: Path | None = typer.Option(None, "--wvs", help="WVS directory (default: shipped)."),
    blend: Path | None = typer.Option(None, "--blend", help="BLEnD directory (default: shipped)."),
    prepare: bool = typer.Option(
        True, help="Also prepare the base model and the caches a first turn reads (once)."
    ),
) -> None:
    """Add the shipped survey statements and BLEnD passages to the knowledge base (once; a
    seeded base is left as it is), export the embedder for onnxruntime and prepare the base
    model and the other caches a first turn reads (once each)."""
    from manyshores.memory.embeddings import load_embedder
    from manyshores.memory.knowledge_base import KnowledgeBase
    from manyshores.memory.seed import BLEND_DIR, WVS_DIR, seed_default

    # Exports and caches the ONNX graph when missing, so no first turn pays for it.
    load_embedder()
    kb = KnowledgeBase.open(get_settings())
    with _progress() as progress:
        tasks: dict[str, Any] = {}

        def advance(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done)

        report = seed_default(
            kb, force=force, progress=advance, wvs_dir=wvs or WVS_DIR, blend_dir=blend or BLEND_DIR
        )
    # Indexes on disk: a new process's first query reads them instead of rebuilding them.
    report["indexes_written"] = kb.persist_indexes()
    if prepare:
        with err.status("preparing the base model and the caches a first turn reads (once)…"):
            report["prepared_seconds"] = _prepare_first_turn()
    typer.echo(json.dumps({"store": kb.location, **report}, indent=2))


def _prepare_first_turn() -> float:
    """Build, once, what a first turn would otherwise build: the base model converted from its
    GGUF, the culture and language-identification caches, the evidence index, the survey
    memory. A fresh `make demo` then answers as fast as a second run. Failures are left for the
    turn itself to report with its own clear message."""
    import time

    from manyshores.components import Components
    from manyshores.graph.warm import warm_up

    started = time.perf_counter()
    warm_up(Components()).join()
    return round(time.perf_counter() - started, 1)


@kb_app.command("query")
def kb_query(
    text: str = typer.Argument(..., help="What to look for."),
    culture: list[str] | None = typer.Option(
        None, "--culture", "-c", help="Culture id (repeatable)."
    ),
    k: int = typer.Option(5, "--k", "-k", min=1, max=100, help="Passages to return."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """Search the knowledge base, optionally restricted to cultures."""
    from manyshores.memory.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.open(get_settings())
    cultures = {_normalize(c): 1.0 for c in culture} if culture else None
    passages = kb.query(text, cultures, k)
    if as_json:
        typer.echo(json.dumps([p.to_json() for p in passages], ensure_ascii=False, indent=2))
        return
    if not passages:
        typer.echo("no passages (is the knowledge base empty? see `manyshores kb stats`)")
    for p in passages:
        typer.echo(f"{p.score:.3f}  [{p.culture}] {p.source}\n       {p.text}")


@kb_app.command("stats")
def kb_stats() -> None:
    """Documents per culture and kind, and where the store lives (JSON)."""
    from manyshores.memory.knowledge_base import KnowledgeBase

    typer.echo(json.dumps(KnowledgeBase.open(get_settings()).stats(), indent=2))


def _with_progress(
    items: list[T], label: str, run: Callable[[Callable[[int], None]], Iterator[Any]]
) -> list[Any]:
    with _progress() as progress:
        task = progress.add_task(label, total=len(items))
        return list(run(lambda n: progress.advance(task, n)))


@eval_app.command("kb")
def eval_kb(
    data: Path = typer.Option(..., "--data", help='JSONL: {"id", "text", "culture"?, "qid"?}.'),
    out: Path = typer.Option(
        ..., "--out", help='JSONL written: {"id", "hits": [...]}, same order.'
    ),
    k: int = typer.Option(5, "--k", min=1, max=100),
    exclude_own: bool = typer.Option(False, help="Leave each line's own question (qid/id) out."),
) -> None:
    """Batch retrieval: one output line per input line, one process for the whole file."""
    from manyshores.eval.runners.kb import evaluate_rows, read_queries
    from manyshores.memory.knowledge_base import KnowledgeBase

    rows = read_queries(data)
    kb = KnowledgeBase.open(get_settings())
    detect = None
    if any(not r.get("culture") for r in rows):
        detect = detect_culture_posterior()
    preds = _with_progress(
        rows,
        "retrieving",
        lambda adv: evaluate_rows(
            kb, rows, k=k, exclude_own=exclude_own, detect=detect, progress=adv
        ),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for pred in preds:
            fh.write(json.dumps(pred, ensure_ascii=False) + "\n")
    err.print(f"wrote {len(preds)} lines to {out}")


@eval_app.command("kb-blend")
def eval_kb_blend(
    blend: Path = typer.Option(SHARED_DATA / "blend", "--blend", help="BLEnD directory."),
    k: int = typer.Option(5, "--k", min=1, max=100),
    ingest: bool = typer.Option(False, help="Ingest the BLEnD files first (idempotent)."),
    exclude_own: bool = typer.Option(False, help="Leave each question's own passages out."),
    folds: int = typer.Option(
        0,
        "--folds",
        min=0,
        help="Cross-validate instead: N temporary bases, each built without one fold of "
        "questions, asked that fold (the stand-in for held-back questions).",
    ),
    local_language: bool = typer.Option(False, help="Query with the local-language question."),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON report here."),
) -> None:
    """Top-k hit rate on BLEnD questions (a passage containing a human answer), per culture."""
    from manyshores.eval.runners.kb import (
        blend_answer_ceiling,
        blend_queries,
        evaluate_blend_folds,
        evaluate_rows,
        score_blend,
    )
    from manyshores.memory.ingest import load_blend
    from manyshores.memory.knowledge_base import KnowledgeBase

    rows = blend_queries(blend, local_language=local_language)
    if folds:
        preds = _with_progress(
            rows,
            f"{folds}-fold",
            lambda adv: evaluate_blend_folds(
                blend, folds=folds, k=k, local_language=local_language, progress=adv
            ),
        )
    else:
        kb = KnowledgeBase.open(get_settings())
        if ingest:
            _ingest(kb, f"BLEnD {blend}", load_blend(blend))
        preds = _with_progress(
            rows,
            "retrieving",
            lambda adv: evaluate_rows(kb, rows, k=k, exclude_own=exclude_own, progress=adv),
        )
    report = {
        "k": k,
        "exclude_own": exclude_own,
        "folds": folds,
        "query_language": "local" if local_language else "en",
        **score_blend(preds, blend),
        "ceiling": blend_answer_ceiling(blend),
    }
    text = json.dumps(report, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


@bench_app.command("kb")
def bench_kb(
    docs: int = typer.Option(10_000, "--docs", min=100, help="Documents in the benchmark store."),
    queries: int = typer.Option(200, "--queries", min=10, help="Timed queries."),
    blend: Path = typer.Option(
        SHARED_DATA / "blend", "--blend", help="BLEnD dir for realistic texts."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON here."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch intra-op threads."),
) -> None:
    """Ingest throughput and query latency (culture filter on) in a temporary embedded store."""
    from manyshores.eval.bench.kb import run_kb_bench

    report = run_kb_bench(
        n_docs=docs, n_queries=queries, blend_dir=blend if blend.is_dir() else None, threads=threads
    )
    text = json.dumps(report, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)
    sys.stdout.flush()
