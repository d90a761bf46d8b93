"""`manyshores eval evidence`: offline accuracy of the evidence ranker on BLEnD."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import eval_app
from manyshores.errors import InvalidInputError


@eval_app.command("evidence")
def eval_evidence(
    language: str = typer.Option("both", "--language", help="en, local or both."),
    data: Path | None = typer.Option(
        None, "--data", help="BLEnD directory (default: the rows shipped in the package)."
    ),
    folds: int = typer.Option(
        0,
        "--folds",
        min=0,
        help="Split the evaluation half into this many folds, each asked of a bank of every "
        "other id (as a new question meets the shipped bank); 0: the training half's bank.",
    ),
    out: Path | None = typer.Option(None, "--json", help="Also write the JSON report here."),
    part: str = typer.Option(
        "all",
        "--part",
        help="all, tune or held-out: ask only that part of the evaluation half (the wording "
        "rule and the confidence calibration are tuned on `tune`, never on `held-out`).",
    ),
    reliability: Path | None = typer.Option(
        None,
        "--reliability",
        help="Also draw the reliability diagram (confidence bins against accuracy, per "
        "language) as a PNG here.",
    ),
) -> None:
    """Lead / top-3 accuracy of ranked human answers on the evaluation half of the BLEnD question
    ids, with the bank restricted to the training half (or, with --folds, to every other id);
    the nearest-question baseline beside it."""
    from manyshores.eval.runners.evidence import evaluate_evidence
    from manyshores.paths import PACKAGE_BLEND

    choices = {"en": ("en",), "local": ("local",), "both": ("en", "local")}
    if language not in choices:
        raise InvalidInputError(f"--language must be en, local or both, not {language!r}")
    if part not in ("all", "tune", "held-out"):
        raise InvalidInputError(f"--part must be all, tune or held-out, not {part!r}")
    report = evaluate_evidence(data or PACKAGE_BLEND, choices[language], folds=folds, part=part)
    if reliability is not None:
        from manyshores.eval.metrics.confidence import plot_reliability

        title = f"Evidence leads, evaluation half ({part}): confidence against accuracy"
        plot_reliability(report["wording"], reliability, title)
    text = json.dumps(report, indent=1, ensure_ascii=False)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)
