"""`manyshores experts list|show|remove|train`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from manyshores.cli.app import experts_app
from manyshores.config import get_settings

console = Console()


def _registry(load_base: bool = False):
    from manyshores.experts.registry import ExpertRegistry

    base = None
    if load_base:
        from manyshores.runtime.base_model import load_base_model

        base = load_base_model()
    return ExpertRegistry.from_settings(get_settings(), base)


@experts_app.command("list")
def list_experts(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Experts in the shipped and user stores."""
    reg = _registry()
    infos = reg.available()
    if as_json:
        typer.echo(json.dumps([{**asdict(i), "path": str(i.path)} for i in infos], indent=2))
        return
    table = Table("id", "culture", "kind", "store", "val_loss", "epochs")
    for i in infos:
        table.add_row(
            i.id,
            i.culture,
            i.kind,
            "shipped" if i.shipped else "user",
            str(i.metrics.get("val_loss", "")),
            str(i.metrics.get("epochs_run", "")),
        )
    console.print(table)
    for path, why in reg.skipped.items():
        console.print(f"[yellow]skipped {path}: {why}[/]")


@experts_app.command("show")
def show(expert_id: str) -> None:
    """Print an expert's manifest."""
    from manyshores.experts.store import read_manifest

    info = _registry().info(expert_id)
    assert info.path is not None
    typer.echo(json.dumps(asdict(read_manifest(info.path)), indent=2))


@experts_app.command("remove")
def remove(expert_id: str) -> None:
    """Delete an expert from the user store."""
    path = _registry().remove(expert_id)
    typer.echo(f"removed {path}")


@experts_app.command("train")
def train(
    culture: str = typer.Option(..., help="Culture id, e.g. USA."),
    kind: str = typer.Option("softprompt", help="softprompt or lora."),
    data: Path = typer.Option(..., help="Split file {culture: {question_id: [shares]}}."),
    questions: Path = typer.Option(None, help="Questions file (default: the shipped WVS one)."),
    expert_id: str = typer.Option(None, "--id", help="Expert id (default <culture>-<kind>)."),
    epochs: int = typer.Option(None, help="Maximum epochs."),
    lr: float = typer.Option(None, help="Learning rate."),
    virtual_tokens: int = typer.Option(None, help="Soft prompt length."),
    seed: int = typer.Option(0, help="Seed."),
    out: Path = typer.Option(None, help="Store directory (default: the user store)."),
) -> None:
    """Train an expert for one culture on survey answer distributions."""
    from tqdm import tqdm

    from manyshores.experts.kinds import get_kind
    from manyshores.experts.training import train_expert
    from manyshores.runtime.base_model import load_base_model
    from manyshores.survey.data import load_questions, load_split

    config = get_kind(kind).config_cls(seed=seed)
    for name, value in (("epochs", epochs), ("lr", lr), ("num_virtual_tokens", virtual_tokens)):
        if value is not None and hasattr(config, name):
            setattr(config, name, value)
    base = load_base_model()
    bar = tqdm(desc=f"{culture} {kind}")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    manifest = train_expert(
        base,
        out or get_settings().user_experts_dir,
        culture,
        kind,
        load_questions(questions),
        load_split(data),
        config,
        expert_id,
        progress,
    )
    bar.close()
    typer.echo(f"trained {manifest.id}: val_loss {manifest.metrics.get('val_loss'):.4f}")


@experts_app.command("calibrate")
def calibrate(
    data: Path = typer.Option(..., help="Dev split {culture: {question_id: [shares]}}."),
    out: Path = typer.Option(
        None, help="Store directory to write calibration.json to (default: the user store)."
    ),
    cache: Path = typer.Option(None, help="Cache of the experts' distributions."),
    report: Path = typer.Option(None, help="Also write the full cross-validation report here."),
    repeats: int = typer.Option(4, help="Cross-validation repeats (reshuffled folds)."),
    seed: int = typer.Option(0, help="Seed of the fold shuffles."),
    chat_model: bool = typer.Option(
        False,
        "--chat-model",
        help="Instead: the survey weight of the configured chat model (MANYSHORES_CHAT_MODEL), "
        "stored under the user store's chat-models/.",
    ),
    limit: int | None = typer.Option(
        None, min=1, help="With --chat-model: only the first N dev questions."
    ),
) -> None:
    """Choose survey memory's parameters and the experts' weight for this expert set and base
    model (question-fold cross-validation) and store them beside the experts; with
    `--chat-model`, the configured chat model's weight beside survey memory."""
    from manyshores.eval.runners.calibrate import DEFAULT_CACHE
    from manyshores.eval.runners.calibrate import calibrate as run

    if not data.is_file():
        raise typer.BadParameter(f"no such file {data}", param_hint="--data")
    if chat_model:
        _calibrate_chat(data, cache, report, repeats, seed, limit)
        return
    calibration, result = run(
        _registry(load_base=True), data, cache or DEFAULT_CACHE, repeats, seed
    )
    path = calibration.save(out or get_settings().user_experts_dir)
    if report is not None:
        report.write_text(json.dumps(result, indent=1) + "\n")
    typer.echo(
        f"expert weight {calibration.expert_weight}, choice sharpen "
        f"{calibration.choice_sharpen}: wrote {path}"
    )


def _calibrate_chat(
    data: Path, cache: Path | None, report: Path | None, repeats: int, seed: int, limit: int | None
) -> None:
    from manyshores.components import Components
    from manyshores.components.expert_backend import CommitteeBackend
    from manyshores.eval.runners.calibrate_chat import DEFAULT_CHAT_CACHE, calibrate_chat
    from manyshores.survey.chat_calibration import save_chat_calibration
    from manyshores.survey.memory import SurveyMemory

    settings = get_settings()
    if not settings.chat_model:
        raise typer.BadParameter("set MANYSHORES_CHAT_MODEL first", param_hint="--chat-model")
    backend = Components(settings=settings).get_experts()
    assert isinstance(backend, CommitteeBackend)
    calibration, result = calibrate_chat(
        backend.chat_scorer(),
        SurveyMemory.from_package(user_store=settings.user_experts_dir),
        backend.calibration(),
        data,
        cache or DEFAULT_CHAT_CACHE,
        base_url=settings.chat_model_base_url,
        previous=backend.chat_calibration(),
        limit=limit,
        repeats=repeats,
        seed=seed,
    )
    path = save_chat_calibration(settings.user_experts_dir, calibration)
    if report is not None:
        report.write_text(json.dumps(result, indent=1) + "\n")
    held = result["cross_validation"]["held_out"]
    typer.echo(
        f"chat model {calibration.spec}: survey weight {calibration.survey_weight} "
        f"(held-out spa {held['spa']}, jsd_align {held['jsd_align']}; memory alone "
        f"{result['cross_validation']['baseline_held_out']}): wrote {path}"
    )
