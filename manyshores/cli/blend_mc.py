"""`manyshores eval blend-mc`: everyday multiple choice, built from BLEnD, through the graph."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from manyshores.cli.app import eval_app
from manyshores.config import get_settings
from manyshores.errors import InvalidInputError

PARTS = ("held-out", "tuning", "all")


@eval_app.command("blend-mc")
def eval_blend_mc(
    data: Path = typer.Option(..., "--data", help="Directory of BLEnD *.json files."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Predictions JSONL (re-running resumes)."
    ),
    report_path: Path | None = typer.Option(None, "--json", help="Also write the report here."),
    part: str = typer.Option(
        "held-out",
        "--part",
        help="held-out (fold 1 of the evaluation ids), tuning (fold 0: what may be looked at "
        "while choosing anything) or all.",
    ),
    limit: int | None = typer.Option(None, min=1, help="Items per culture."),
    items_path: Path | None = typer.Option(
        None, "--items", help="Also write the items built (JSONL) here."
    ),
    fit: bool = typer.Option(
        False,
        "--fit",
        help="Instead: fit the option weights on the training half and the tuning part "
        "(never the held-out part) and print them with their tuning accuracy.",
    ),
    progress: bool = typer.Option(True, help="Show progress bars."),
    fit_chat: bool = typer.Option(
        False,
        "--fit-chat",
        help="With --part tuning and MANYSHORES_CHAT_MODEL: choose the chat model's everyday "
        "weight (its exponent beside the evidence) on the tuning items and store it.",
    ),
) -> None:
    """Build everyday multiple choice from the evaluation half of the BLEnD ids (a culture's
    most common answer against three other cultures' most common answers to the same question),
    answer every item through the default graph with those ids out of the evidence, and report
    the lead option's accuracy per culture and the share of replies with a percentage."""
    if fit:
        from manyshores.eval.runners.blend_mc_fit import fit_option_weights

        report = fit_option_weights(data, typer.echo if progress else None)
        _emit(report, report_path)
        return
    if out is None:
        raise InvalidInputError("--out is required (predictions JSONL)")
    if fit_chat and (part != "tuning" or not get_settings().chat_model):
        raise InvalidInputError("--fit-chat needs --part tuning and MANYSHORES_CHAT_MODEL")
    if part not in PARTS:
        raise InvalidInputError(f"--part must be one of {', '.join(PARTS)}, not {part!r}")
    import tempfile

    from manyshores.eval.datasets.blend_mc import TUNING_FOLD, build_eval_mc, write_items
    from manyshores.eval.runners.blend_graph import evaluation_components
    from manyshores.eval.runners.blend_mc import run_mc, score_mc
    from manyshores.evidence.bank import AnswerBank, is_eval_id
    from manyshores.graph.assistant import CultureAssistant

    items = build_eval_mc(data)
    if part != "all":
        items = [it for it in items if (it.fold == TUNING_FOLD) == (part == "tuning")]
    if limit is not None:
        taken: dict[str, int] = {}
        kept = []
        for it in items:
            if taken.get(it.culture, 0) < limit:
                taken[it.culture] = taken.get(it.culture, 0) + 1
                kept.append(it)
        items = kept
    if items_path is not None:
        write_items(items, items_path)
    bank = AnswerBank.from_dir(data)
    exclude = {q.id for qs in bank.questions.values() for q in qs if is_eval_id(q.id)}
    with tempfile.TemporaryDirectory(prefix="manyshores-eval-") as home:
        # The experts run on every item, so the report measures them beside the evidence.
        settings = get_settings().model_copy(update={"always_run_option_experts": True})
        components = evaluation_components(settings, exclude, Path(home))
        if fit_chat:
            _evidence_alone(components)
        assistant = CultureAssistant(components)

        def answer(text: str) -> dict:
            import uuid

            return dict(assistant.invoke(text, thread_id=f"mc-{uuid.uuid4().hex[:12]}").values)

        rows = run_mc(items, answer, out, progress=progress)
    report = score_mc(rows)
    report["settings"] = {"data": str(data), "part": part, "limit": limit, "items": len(items)}
    if fit_chat:
        report["chat_everyday_weight"] = _store_chat_weight(rows)
    _emit(report, report_path)


def _evidence_alone(components) -> None:
    """The run's chat model counts for nothing beside the evidence (its rows' `probs` are the
    evidence's own), so the weight is fitted on the evidence and the model side by side."""
    from dataclasses import replace

    from manyshores.components.expert_backend import CommitteeBackend

    backend = components.get_experts()
    assert isinstance(backend, CommitteeBackend)
    backend.use_chat_calibration(replace(backend.chat_calibration(), everyday_weight=0.0))


def _store_chat_weight(rows: list) -> dict:
    from manyshores.eval.datasets.blend_mc import TUNING_FOLD
    from manyshores.eval.runners.blend_mc import fit_chat_weight
    from manyshores.survey.chat_calibration import read_chat_calibration, save_chat_calibration

    settings = get_settings()
    assert settings.chat_model
    weight, accuracy = fit_chat_weight([r for r in rows if r["fold"] == TUNING_FOLD])
    stored = read_chat_calibration(settings.user_experts_dir, settings.chat_model)
    found = stored.with_measure(
        "everyday",
        everyday_weight=weight,
        measured={"method": "BLEnD multiple choice, tuning part", "accuracy": accuracy},
    )
    path = save_chat_calibration(settings.user_experts_dir, found)
    return {"weight": weight, "accuracy": accuracy, "stored": str(path)}


def _emit(report: dict, path: Path | None) -> None:
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    typer.echo(text)
