"""Rebuild the default experts: one soft prompt per WVS culture, trained on its train split.

`make experts` runs `python -m manyshores.experts.train_defaults`. All cultures train together (one
batched pass per question, see `softprompt.train`), the state is saved after every epoch and
resumed when the command is run again, and cultures whose finished expert is already in the
output directory are skipped. Expect about 4-15 min per epoch on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

from manyshores.experts.softprompt.config import SoftPromptConfig
from manyshores.experts.store import ExpertManifest, expert_dir, read_manifest, save_expert
from manyshores.paths import PACKAGE_EXPERTS
from manyshores.survey.data import (
    PACKAGE_WVS,
    SurveyItem,
    data_hash,
    items_for,
    load_countries,
    load_questions,
    load_split,
    split_questions,
)

log = logging.getLogger(__name__)
# Four epochs of 4 virtual tokens (131 batched steps of 16 cultures an epoch: 1-3 s a step with
# one thread on the shared 2-core CPU, i.e. 4-7 min an epoch; 25-38 s a step under heavy load).
# Validation cross-entropy per epoch: 1.542, 1.488, 1.469, 1.464 (mean over the 16 cultures).
DEFAULT_CONFIG = SoftPromptConfig(num_virtual_tokens=4, epochs=4, lr=2e-2, patience=1)
JOINT_CONFIG = SoftPromptConfig(num_virtual_tokens=4, epochs=1, lr=2e-2, patience=1)


def default_expert_id(culture: str, kind: str = "softprompt") -> str:
    return f"wvs-{culture.lower()}-{kind}"


def _is_complete(root: Path, culture: str) -> bool:
    path = expert_dir(root, default_expert_id(culture))
    try:
        return bool(read_manifest(path).metrics.get("complete"))
    except Exception:
        return False


JOINT_SUFFIX = " Country: {culture}. Answer:"
"""After the joint prompt's virtual tokens: names the culture, keeps the prefix shared."""


def survey_examples(
    items: list[SurveyItem], slot_of: dict[str, int], culture_names: dict[str, str] | None = None
):
    """Prompt-tuning rows for survey items; with `culture_names`, the joint suffix names them."""
    from manyshores.experts.softprompt.train import PromptExample
    from manyshores.runtime.scoring import survey_messages

    rows = []
    for it in items:
        msgs = survey_messages(it.question.question, list(it.question.options))
        suffix = ""
        if culture_names:
            suffix = JOINT_SUFFIX.format(culture=culture_names.get(it.culture, it.culture))
        rows.append(
            PromptExample(
                slot_of[it.culture],
                tuple((m["role"], m["content"]) for m in msgs),
                len(it.target),
                it.target,
                it.question.id,
                suffix,
            )
        )
    return rows


def build(
    out: Path,
    data_dir: Path,
    config: SoftPromptConfig,
    state_dir: Path,
    cultures: list[str] | None = None,
) -> list[str]:
    """Train the missing default experts into `out`; returns the ids written."""
    from tqdm import tqdm

    from manyshores.experts.softprompt.train import train_prompts
    from manyshores.runtime.base_model import load_base_model

    base = load_base_model("default")
    questions = load_questions(data_dir / "questions.json")
    train = load_split(data_dir / "train.json")
    todo = [c for c in (cultures or sorted(train)) if not _is_complete(out, c)]
    if not todo:
        log.info("all default experts are built")
        return []
    slot_of = {c: i for i, c in enumerate(todo)}
    all_items = {c: items_for(train, questions, c) for c in todo}
    fit_q, val_q = split_questions(
        sorted(questions.keys() & train[todo[0]].keys()), config.val_fraction, config.seed
    )
    fit = survey_examples(
        [i for c in todo for i in all_items[c] if i.question.id in fit_q], slot_of
    )
    val = survey_examples(
        [i for c in todo for i in all_items[c] if i.question.id in val_q], slot_of
    )
    started = time.time()

    def publish(result, complete: bool = False) -> None:
        for c in todo:
            s = slot_of[c]
            manifest = ExpertManifest(
                id=default_expert_id(c),
                culture=c,
                kind="softprompt",
                base_fingerprint=base.fingerprint,
                data_hash=data_hash(all_items[c]),
                hyperparameters=asdict(config),
                metrics={
                    "val_loss": round(result.val_loss[s], 5),
                    "epochs_run": result.epochs_run,
                    "train_seconds": round(time.time() - started),
                    "complete": complete,
                    "history": result.history,
                },
            )
            save_expert(out, manifest, {"prompt": result.prompts[s]})

    bar = tqdm(total=config.epochs * len({e.messages for e in fit}), desc=f"{len(todo)} cultures")

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    state = state_dir / f"defaults-{'-'.join(todo)}.safetensors"
    result = train_prompts(
        base, fit, val, len(todo), config, progress=progress, state_path=state, on_epoch=publish
    )
    bar.close()
    publish(result, complete=True)
    return [default_expert_id(c) for c in todo]


def build_joint(
    out: Path, data_dir: Path, config: SoftPromptConfig, state_dir: Path, max_questions: int
) -> str:
    """The papers' joint baseline: one soft prompt for all cultures, the culture named after it.

    Trained on at most `max_questions` of the fit questions (seeded choice) to bound its cost.
    """
    import random

    from manyshores.experts.softprompt.train import train_prompts
    from manyshores.runtime.base_model import load_base_model

    base = load_base_model("default")
    questions = load_questions(data_dir / "questions.json")
    train = load_split(data_dir / "train.json")
    names = load_countries(data_dir / "countries.json")
    cultures = sorted(train)
    qids = sorted(questions.keys() & train[cultures[0]].keys())
    fit_q, val_q = split_questions(qids, config.val_fraction, config.seed)
    fit_list = sorted(fit_q)
    random.Random(config.seed).shuffle(fit_list)
    fit_q = set(fit_list[:max_questions])
    items = [i for c in cultures for i in items_for(train, questions, c)]
    slots = {c: 0 for c in cultures}
    fit = survey_examples([i for i in items if i.question.id in fit_q], slots, names)
    val = survey_examples([i for i in items if i.question.id in val_q], slots, names)
    started = time.time()
    result = train_prompts(
        base, fit, val, 1, config, state_path=state_dir / f"joint-{max_questions}.safetensors"
    )
    hp = {**asdict(config), "suffix": JOINT_SUFFIX, "max_questions": max_questions}
    manifest = ExpertManifest(
        id="wvs-joint-softprompt",
        culture="*",
        kind="softprompt",
        base_fingerprint=base.fingerprint,
        data_hash=data_hash(items),
        hyperparameters=hp,
        metrics={
            "val_loss": round(result.val_loss[0], 5),
            "epochs_run": result.epochs_run,
            "train_seconds": round(time.time() - started),
            "complete": True,
            "history": result.history,
        },
    )
    save_expert(out, manifest, {"prompt": result.prompts[0]})
    return manifest.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PACKAGE_EXPERTS)
    parser.add_argument("--data", type=Path, default=PACKAGE_WVS)
    parser.add_argument("--state-dir", type=Path, default=Path("~/.cache/manyshores/train-state"))
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--cultures", default="")
    parser.add_argument("--joint", action="store_true", help="Train the joint baseline instead.")
    parser.add_argument("--joint-questions", type=int, default=40)
    parser.add_argument(
        "--epochs",
        type=int,
        default=0,
        help="Maximum epochs (default: the shipped configuration's). A run resumes from its saved "
        "state, so raising this continues training the same run for more epochs.",
    )
    parser.add_argument("--lr", type=float, default=0.0, help="Learning rate (default: shipped).")
    parser.add_argument("--patience", type=int, default=0, help="Early-stopping patience.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    started = time.time()
    if args.joint:
        jid = build_joint(
            args.out, args.data, JOINT_CONFIG, args.state_dir.expanduser(), args.joint_questions
        )
        log.info("built %s in %.0f s", jid, time.time() - started)
        return
    config = replace(
        DEFAULT_CONFIG,
        epochs=args.epochs or DEFAULT_CONFIG.epochs,
        lr=args.lr or DEFAULT_CONFIG.lr,
        patience=args.patience or DEFAULT_CONFIG.patience,
    )
    ids = build(
        args.out,
        args.data,
        config,
        args.state_dir.expanduser(),
        [c for c in args.cultures.split(",") if c] or None,
    )
    log.info("built %d experts in %.0f s: %s", len(ids), time.time() - started, ids)
    print("default experts up to date; load and score them with `manyshores eval wvs`")
    _ = load_countries  # names are not needed: default experts never name their culture


if __name__ == "__main__":
    main()
