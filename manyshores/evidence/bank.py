"""The answer bank: BLEnD questions per culture with their human answers.

Rows come from the package data (`manyshores/data/blend/*.json`) or any directory of files in the
same format. The bank never interprets the text: questions and answers are data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manyshores.blend_files import read_blend_dir
from manyshores.errors import InvalidInputError
from manyshores.paths import PACKAGE_BLEND

EVAL_SHARE = 0.3
"""Share of question ids in the evaluation half (`manyshores data split-blend`'s default)."""


def is_eval_id(qid: str, share: float = EVAL_SHARE) -> bool:
    """The split rule of `manyshores data split-blend`: by a hash of the id, the same id in
    every culture, so no evaluated question's annotations reach the training half."""
    digest = int(hashlib.sha256(qid.encode()).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < share


def fold_of(qid: str, folds: int) -> int:
    """A question id's cross-validation fold: the same in every culture, and drawn from other
    hash bits than `is_eval_id`, so each half spreads evenly over the folds."""
    return int(hashlib.sha256(f"fold:{qid}".encode()).hexdigest()[:8], 16) % folds


@dataclass(frozen=True)
class Annotation:
    """One distinct human answer to a question (its spelling variants together)."""

    answers: tuple[str, ...]
    """Variants in the local language."""
    en_answers: tuple[str, ...]
    """Variants in English."""
    count: int
    """Annotators who gave it."""


@dataclass(frozen=True)
class BankQuestion:
    """One BLEnD question of one culture with its human answers."""

    id: str
    """BLEnD question id (the same id across cultures)."""
    culture: str
    """Culture id (ISO 3166-1 alpha-3, or ISO 3166-2 for regions)."""
    name: str
    """The culture's name as the data spells it (`South Korea`), stripped from questions."""
    language: str
    """ISO 639-1 code of `question`."""
    question: str
    """The question in the local language."""
    en_question: str
    """The question in English."""
    annotations: tuple[Annotation, ...]
    """Human answers, most annotators first."""

    @property
    def ref(self) -> str:
        """Citation id of the row: `blend:<culture>#<id>`."""
        return f"blend:{self.culture}#{self.id}"

    @property
    def total(self) -> int:
        """Annotators who answered (sum of the counts)."""
        return sum(a.count for a in self.annotations)


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(s.strip() for s in value if isinstance(s, str) and s.strip())


def parse_row(row: Any, where: str) -> BankQuestion:
    """One row of a BLEnD file; a row that is not one gives a clear error."""
    if not isinstance(row, dict) or not row.get("id") or not row.get("culture"):
        raise InvalidInputError(f"{where}: not a BLEnD row (needs at least `id` and `culture`)")
    anns = []
    for ann in row.get("annotations") or []:
        if not isinstance(ann, dict):
            continue
        en, local = _strs(ann.get("en_answers")), _strs(ann.get("answers"))
        try:
            count = int(ann.get("count", 1))
        except (TypeError, ValueError):
            count = 1
        if (en or local) and count > 0:
            anns.append(Annotation(local, en, count))
    anns.sort(key=lambda a: -a.count)
    culture = str(row["culture"])
    return BankQuestion(
        id=str(row["id"]),
        culture=culture,
        name=str(row.get("blend_name") or culture).replace("_", " "),
        language=str(row.get("language") or "en"),
        question=str(row.get("question") or row.get("en_question") or ""),
        en_question=str(row.get("en_question") or row.get("question") or ""),
        annotations=tuple(anns),
    )


def read_rows(directory: Path) -> list[BankQuestion]:
    """Every row of every `*.json` file in `directory` (files in name order)."""
    return [
        parse_row(r, f"{path}[{i}]")
        for path, rows in read_blend_dir(directory)
        for i, r in enumerate(rows)
    ]


@dataclass
class AnswerBank:
    """Answered questions per culture."""

    questions: dict[str, list[BankQuestion]]
    """Culture id to its questions that have at least one answer, in file order."""

    @classmethod
    def from_rows(cls, rows: Iterable[BankQuestion]) -> AnswerBank:
        by_culture: dict[str, list[BankQuestion]] = {}
        for q in rows:
            if q.annotations:
                by_culture.setdefault(q.culture, []).append(q)
        return cls(by_culture)

    @classmethod
    def from_dir(cls, directory: Path = PACKAGE_BLEND) -> AnswerBank:
        return cls.from_rows(read_rows(directory))

    def cultures(self) -> list[str]:
        return sorted(self.questions)

    def restricted(self, keep: Collection[str]) -> AnswerBank:
        """Only the question ids in `keep` (for leak-free evaluation and fitting)."""
        ids = set(keep)
        return AnswerBank({c: [q for q in qs if q.id in ids] for c, qs in self.questions.items()})

    def fingerprint(self) -> str:
        """Changes whenever any question or answer changes (keys caches built from the bank)."""
        h = hashlib.sha256()
        for culture in self.cultures():
            for q in self.questions[culture]:
                h.update(repr((q.culture, q.id, q.question, q.en_question, q.annotations)).encode())
        return h.hexdigest()[:16]
