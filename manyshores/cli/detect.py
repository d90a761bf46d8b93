"""`manyshores eval detect`, `manyshores eval build-detect-set` and `manyshores bench detect`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import bench_app, eval_app
from manyshores.errors import InvalidInputError
from manyshores.paths import PACKAGE_DETECT

DEFAULT_BLEND = Path("../shared/data/blend")


def _packaged(name: str) -> Path:

    return PACKAGE_DETECT / name


def _cultures(value: str | None) -> list[str] | None:
    if not value:
        return None
    from manyshores.cultures import get_registry

    registry = get_registry()
    return [registry.normalize(c.strip()) for c in value.split(",") if c.strip()]


@eval_app.command("detect")
def eval_detect(
    data: Path = typer.Option(..., "--data", help="Cases, JSONL: id, messages, label, kind."),
    out: Path = typer.Option(..., "--out", help="Where to write predictions (JSONL)."),
    json_report: Path | None = typer.Option(None, "--json", help="Also write the report here."),
    cultures: str | None = typer.Option(
        None, "--cultures", help="Comma-separated candidate culture ids (default: the registry)."
    ),
) -> None:
    """Culture detection accuracy: top-1, top-3 recall, ambiguity P/R, confident-wrong per kind."""
    from manyshores.eval.runners.detect import evaluate_file

    if not data.is_file():
        raise InvalidInputError(f"no such file: {data}")
    report = evaluate_file(data, out, cultures=_cultures(cultures))
    _print_report(report)
    if json_report is not None:
        json_report.parent.mkdir(parents=True, exist_ok=True)
        json_report.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        typer.echo(f"report written to {json_report}")


def _print_report(report: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"culture detection — {report['n']} cases")
    table.add_column("kind", no_wrap=True)
    for col in ("n", "top-1", "top-3 rec", "amb P", "amb R", "amb/unk", "conf-wrong"):
        table.add_column(col)
    by_kind = dict(report["by_kind"])  # type: ignore[call-overload]
    by_kind["all"] = report["overall"]
    for kind, m in by_kind.items():
        table.add_row(
            kind,
            str(m["n"]),
            f"{m['top1']:.3f}",
            f"{m['top3_recall']:.3f}",
            "-" if m["ambiguity_precision"] is None else f"{m['ambiguity_precision']:.3f}",
            "-" if m["ambiguity_recall"] is None else f"{m['ambiguity_recall']:.3f}",
            f"{m['ambiguous_or_unknown']:.3f}",
            f"{m['confident_wrong']:.3f}",
        )
    console = Console()
    console.print(table)
    skipped = dict(report.get("skipped") or {})  # type: ignore[call-overload]
    if skipped.get("n"):
        reasons = "; ".join(f"{why}: {n}" for why, n in skipped["by_reason"].items())
        console.print(f"skipped {skipped['n']} cases that cannot be asked ({reasons})")
    passed = dict(report.get("passed", {}))  # type: ignore[call-overload]
    targets = dict(report.get("targets", {}))  # type: ignore[call-overload]
    for key, value in dict(report["criteria"]).items():  # type: ignore[call-overload]
        mark = (
            "" if key not in passed else (" [green]PASS[/green]" if passed[key] else " [red]FAIL")
        )
        target = (
            f" (target {'<' if key.endswith('_max') else '≥'} {targets[key]})"
            if (key in targets)
            else ""
        )
        console.print(f"{key}: {value:.4f}{target}{mark}")


@eval_app.command("requests")
def eval_requests(
    blend: Path = typer.Option(
        DEFAULT_BLEND, "--blend", help="BLEnD directory: every question should read as a fact."
    ),
    cases: Path | None = typer.Option(
        None, "--cases", help="Hand-written requests, JSONL: text, request, language, set."
    ),
    json_report: Path | None = typer.Option(None, "--json", help="Also write the report here."),
) -> None:
    """Request kinds (fact / write / how / advice / compare / multi): the share of BLEnD questions
    read as facts, and the accuracy on hand-written requests."""
    from manyshores.eval.runners.requests import (
        PACKAGE_REQUESTS,
        bank_fact_share,
        request_accuracy,
    )

    report = {
        "bank": bank_fact_share(blend),
        "requests": request_accuracy(cases or PACKAGE_REQUESTS),
    }
    text = json.dumps(report, indent=1, ensure_ascii=False)
    if json_report is not None:
        json_report.parent.mkdir(parents=True, exist_ok=True)
        json_report.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


@eval_app.command("build-detect-set")
def build_detect_set(
    blend: Path = typer.Option(
        DEFAULT_BLEND, "--blend", help="BLEnD directory (one JSON per culture)."
    ),
    out: Path = typer.Option(..., "--out", help="Where to write the cases (JSONL)."),
    split: str = typer.Option("dev", "--split", help="`dev` or `test` (by question id hash)."),
    per_kind: int = typer.Option(20, "--per-kind", help="Cases per culture and kind."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
) -> None:
    """Build a culture-detection set (place named, language only, shared language, no cue,
    multi-turn) from BLEnD; the set shipped in the package is `--split dev --per-kind 20`."""
    from collections import Counter

    from manyshores.eval.datasets.detect_cases import build_cases
    from manyshores.eval.jsonl import write_jsonl

    if split not in ("dev", "test"):
        raise InvalidInputError("--split must be `dev` or `test`")
    if not blend.is_dir():
        raise InvalidInputError(f"BLEnD directory not found: {blend}")
    cases = build_cases(blend, split=split, per_kind=per_kind, seed=seed)
    n = write_jsonl(cases, out)
    kinds = Counter(c["kind"] for c in cases)
    typer.echo(f"{n} cases written to {out}: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))


@eval_app.command("build-cue-set")
def build_cue_set(
    blend: Path = typer.Option(
        DEFAULT_BLEND, "--blend", help="BLEnD directory (one JSON per culture)."
    ),
    out_dir: Path = typer.Option(
        PACKAGE_DETECT, "--out-dir", help="Where to write cues_tune.jsonl and cues_held.jsonl."
    ),
    per_culture: int = typer.Option(6, "--per-culture", help="Topic switches per culture."),
) -> None:
    """Build the cue sets: the hand-written cases (festivals, dishes, landmarks, institutions,
    currencies, cities, the own culture, shared languages) and topic switches after three turns
    from BLEnD, each split into a tuning and a held-out part."""
    from collections import Counter

    from manyshores.eval.datasets.cue_cases import build_cue_sets
    from manyshores.eval.jsonl import write_jsonl

    if not blend.is_dir():
        raise InvalidInputError(f"BLEnD directory not found: {blend}")
    for part, cases in build_cue_sets(blend, per_culture).items():
        path = out_dir / f"cues_{part}.jsonl"
        n = write_jsonl(cases, path)
        kinds = Counter(c["kind"] for c in cases)
        typer.echo(f"{part}: {n} cases written to {path}: "
                   + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))  # fmt: skip


@bench_app.command("detect")
def bench_detect(
    data: Path | None = typer.Option(
        None, "--data", help="Cases (JSONL); default: the packaged BLEnD dev set."
    ),
    n: int = typer.Option(500, "--n", help="Messages to time."),
    cultures: str | None = typer.Option(
        None, "--cultures", help="Comma-separated candidates (default: the registry)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON report here."),
) -> None:
    """Detection latency per message after load (JSON): p50 must stay under 10 ms."""
    from manyshores.eval.bench.detect import run_detect_bench

    report = run_detect_bench(data or _packaged("dev.jsonl"), n=n, cultures=_cultures(cultures))
    text = json.dumps(report, indent=2)
    typer.echo(text)
    if out is not None:
        out.write_text(text)
