"""`manyshores eval wvs` and `manyshores bench committee`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import bench_app, eval_app
from manyshores.config import get_settings


@eval_app.command("wvs")
def eval_wvs(
    questions: Path = typer.Option(..., help="questions.json (WVS format)."),
    data: Path = typer.Option(..., help="{country: {question_id: [shares]}} to predict and score."),
    systems: str = typer.Option(
        "base,prompted,softprompt,memory,experts",
        help="Comma list; with MANYSHORES_CHAT_MODEL also chat (the graph's survey decision with "
        "the chat model's option probabilities) and chat_alone (its probabilities alone).",
    ),
    out: Path = typer.Option(..., help="Predictions JSONL."),
    json_out: Path = typer.Option(None, "--json", help="Report JSON."),
    plot: Path = typer.Option(None, help="Plot PNG."),
    resume: bool = typer.Option(
        False, help="Keep the questions already complete in OUT and predict only the rest."
    ),
    limit: int | None = typer.Option(
        None, min=1, help="Only the first N questions of DATA (by id): a quick subset."
    ),
    countries: str | None = typer.Option(None, help="Comma-separated countries (default: all)."),
) -> None:
    """Predict every (country, question) of DATA with each system and score it.

    Predictions are appended to OUT question by question, so an interrupted run loses at most
    one question: rerun it with `--resume`.
    """
    from tqdm import tqdm

    from manyshores.eval.jsonl import read_jsonl
    from manyshores.eval.metrics.survey import score_wvs_predictions
    from manyshores.eval.runners.wvs import CHAT_SYSTEMS, WvsEvaluator, subset
    from manyshores.eval.runners.wvs_report import complete_questions, markdown_table, plot_report
    from manyshores.survey.data import load_questions, load_split
    from manyshores.survey.memory import SurveyMemory

    names = [s.strip() for s in systems.split(",") if s.strip()]
    base = registry = None
    if set(names) - {"memory", *CHAT_SYSTEMS}:
        from manyshores.experts.registry import ExpertRegistry
        from manyshores.runtime.base_model import load_base_model

        base = load_base_model()
        registry = ExpertRegistry.from_settings(get_settings(), base)
    evaluator = WvsEvaluator(base, registry, SurveyMemory.from_package())
    if registry is not None:
        evaluator.calibration = registry.calibration()
    if CHAT_SYSTEMS & set(names):
        # The graph's own parts: its chat model, the expert set's calibration and the chat
        # model's, so the `chat` figure is what the graph decides.
        from manyshores.components import Components
        from manyshores.components.expert_backend import CommitteeBackend

        backend = Components(settings=get_settings()).get_experts()
        if not isinstance(backend, CommitteeBackend) or not get_settings().chat_model:
            raise typer.BadParameter(
                "systems chat and chat_alone need MANYSHORES_CHAT_MODEL", param_hint="--systems"
            )
        evaluator.chat = backend.chat_scorer()
        evaluator.chat_weight = backend.chat_calibration().survey_weight
        evaluator.calibration = backend.calibration()
    split = subset(load_split(data), limit, countries)
    bar = tqdm(desc="questions")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    kept = [r for r in read_jsonl(out, resume=True) if r["system"] in names] if resume else []
    done = complete_questions(kept, split, names)
    kept = [r for r in kept if r["qid"] in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for r in kept:
            fh.write(json.dumps(r) + "\n")
        fh.flush()

        def save(recs: list[dict[str, object]]) -> None:
            for r in recs:
                fh.write(json.dumps(r) + "\n")
            fh.flush()

        records = kept + evaluator.predict(
            load_questions(questions), split, names, progress, skip=done, on_records=save
        )
    bar.close()
    report = score_wvs_predictions(records, split)
    typer.echo(markdown_table(report))
    skipped = evaluator.skipped.report()
    if skipped["n"]:
        reasons = "; ".join(f"{why}: {n}" for why, n in skipped["by_reason"].items())
        typer.echo(f"skipped {skipped['n']} (country, question) pairs ({reasons})")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        # Systems at the top level (as `plot_report` reads them), what was skipped beside them.
        json_out.write_text(json.dumps({**report, "skipped": skipped}, indent=2))
    if plot:
        plot_report(report, plot)


@bench_app.command("committee")
def bench_committee(
    out: Path = typer.Option(None, help="Write the JSON here too."),
    repeats: int = typer.Option(3, help="Timed repeats (best kept)."),
    new_tokens: int = typer.Option(32, help="Free-text answer length."),
) -> None:
    """Committee vs one-by-one: k = 1, 2, 4, 8 soft-prompt experts; memory of 16 experts."""
    from manyshores.eval.bench.committee import run_bench

    result = run_bench(repeats=repeats, new_tokens=new_tokens)
    text = json.dumps(result, indent=2)
    typer.echo(text)
    if out:
        out.write_text(text + "\n")
