"""Training one expert for one culture from survey data (`manyshores experts train`).

Data: a split file `{culture: {question_id: [share per option]}}` plus a questions file (the WVS
format of `manyshores/data/wvs`). A seeded share of the questions is held out to stop early;
an optional dev split is scored after training and its metrics recorded in the manifest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError
from manyshores.experts.kinds import capabilities, kind_names
from manyshores.experts.store import ExpertManifest, save_expert
from manyshores.paths import SURVEY_FILE
from manyshores.survey.data import data_hash, items_for, split_questions

if TYPE_CHECKING:
    from manyshores.runtime.base_model import BaseModel
    from manyshores.survey.data import SurveyItem, SurveyQuestion


def train_expert(
    base: BaseModel,
    root: Path,
    culture: str,
    kind: str,
    questions: dict[str, SurveyQuestion],
    train: dict[str, dict[str, list[float]]],
    config: Any,
    expert_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExpertManifest:
    """Train and store one expert; returns its manifest."""
    from manyshores.experts.train_defaults import survey_examples

    items = items_for(train, questions, culture)
    if len(items) < 4:
        raise InvalidInputError(
            f"culture {culture} has {len(items)} usable answers; need at least 4"
        )
    fit_q, val_q = split_questions([i.question.id for i in items], config.val_fraction, config.seed)
    fit = survey_examples([i for i in items if i.question.id in fit_q], {culture: 0})
    val = survey_examples([i for i in items if i.question.id in val_q], {culture: 0})
    start = time.time()
    trainer = capabilities(kind).trainer
    if trainer is None:
        trainable = [k for k in kind_names() if capabilities(k).trainer]
        raise InvalidInputError(
            f"kind {kind!r} cannot be trained (choose {' or '.join(trainable)})"
        )
    tensors, metrics = capabilities(kind).train()(base, fit, val, config, progress)
    metrics.update(train_seconds=round(time.time() - start), complete=True)
    manifest = ExpertManifest(
        id=expert_id or f"{culture.lower()}-{kind}",
        culture=culture,
        kind=kind,
        base_fingerprint=base.fingerprint,
        data_hash=data_hash(items),
        hyperparameters=asdict(config),
        metrics=metrics,
    )
    path = save_expert(root, manifest, tensors)
    save_survey(path, culture, items)
    return manifest


"""Beside an expert trained on survey data: its questions and the culture's answer shares, so
that survey memory (`manyshores.survey.memory`) can answer from them too."""


def save_survey(path: Path, culture: str, items: list[SurveyItem]) -> None:
    """Write the training survey of an expert into its directory (`SURVEY_FILE`)."""
    import json

    payload = {
        "questions": [
            {"id": i.question.id, "question": i.question.question, "options": i.question.options}
            for i in items
        ],
        "answers": {culture: {i.question.id: list(i.target) for i in items}},
    }
    (path / SURVEY_FILE).write_text(json.dumps(payload))
