"""Survey data in the shared WVS format: questions, answer shares per culture, splits by question.

`questions.json` is a list of `{id, topic, question, options, wvs_codes}`; a split file is
`{culture: {question_id: [share per option]}}`. The package ships a copy in `manyshores/data/wvs`.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from manyshores.paths import PACKAGE_WVS


@dataclass(frozen=True)
class SurveyQuestion:
    """One multiple-choice survey question with ordinal options."""

    id: str
    """Question id, e.g. `Q1`."""
    question: str
    """Question text without the options."""
    options: tuple[str, ...]
    """Answer texts in questionnaire (ordinal) order."""
    topic: str = ""
    """Questionnaire section, used to stratify splits."""


@dataclass(frozen=True)
class SurveyItem:
    """A question with one culture's human answer distribution."""

    culture: str
    """Culture id (ISO 3166-1 alpha-3)."""
    question: SurveyQuestion
    """The question."""
    target: tuple[float, ...]
    """Share of respondents per option (sums to 1)."""


def load_questions(path: Path | str | None = None) -> dict[str, SurveyQuestion]:
    """Questions by id (default: the copy shipped in the package)."""
    raw = json.loads(Path(path or PACKAGE_WVS / "questions.json").read_text())
    return {
        q["id"]: SurveyQuestion(q["id"], q["question"], tuple(q["options"]), q.get("topic", ""))
        for q in raw
    }


def load_split(path: Path | str) -> dict[str, dict[str, list[float]]]:
    """`{culture: {question_id: shares}}` as stored."""
    data: dict[str, dict[str, list[float]]] = json.loads(Path(path).read_text())
    return data


def load_countries(path: Path | str | None = None) -> dict[str, str]:
    """Culture id to display name."""
    data: dict[str, str] = json.loads(Path(path or PACKAGE_WVS / "countries.json").read_text())
    return data


def items_for(
    split: dict[str, dict[str, list[float]]], questions: dict[str, SurveyQuestion], culture: str
) -> list[SurveyItem]:
    """One culture's items, in question-id order, skipping questions with unknown ids."""
    answers = split.get(culture, {})
    return [
        SurveyItem(culture, questions[qid], tuple(float(x) for x in shares))
        for qid, shares in sorted(answers.items())
        if qid in questions and len(questions[qid].options) == len(shares)
    ]


def split_questions(qids: list[str], val_fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """A seeded split of question ids into (fit, validation); validation is used to stop early."""
    ordered = sorted(qids)
    random.Random(seed).shuffle(ordered)
    n_val = max(1, round(len(ordered) * val_fraction)) if val_fraction > 0 else 0
    return set(ordered[n_val:]), set(ordered[:n_val])


def data_hash(items: list[SurveyItem]) -> str:
    """A short hash of training data, recorded in expert manifests."""
    digest = hashlib.sha256()
    for it in sorted(items, key=lambda i: (i.culture, i.question.id)):
        digest.update(
            json.dumps(
                [
                    it.culture,
                    it.question.id,
                    it.question.question,
                    list(it.question.options),
                    [round(x, 6) for x in it.target],
                ]
            ).encode()
        )
    return digest.hexdigest()[:16]
