"""Everyday multiple choice built from BLEnD, the way BLEnD builds its own: for one culture and
one question id, the culture's most common answer against three other cultures' most common
answers to the same question id.

    items = build_mc(AnswerBank.from_dir(data_dir), ids)
    items[0].text   # "What is a popular food to go with beer in Spain? Options: a, b, c, d"
    items[0].answer # index of the culture's own most common answer

The wrong options are other cultures' answers that are neither the same answer after
normalisation nor any answer the culture's own people gave (a distractor that some of them
said would be right too). Everything random is drawn from one seeded generator per item, so a
build is the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from manyshores.evidence.bank import AnswerBank, BankQuestion, fold_of
from manyshores.textnorm import normalize_answer

OPTIONS = 4
"""Options per question: the right one and three from other cultures."""
FOLDS = 2
"""`fold_of(id, FOLDS)`: fold 0 is the tuning part, fold 1 the held-out part."""
TUNING_FOLD = 0
"""The fold whose items may be looked at while choosing anything."""
SEED = 20240529
"""Seed of the choice of distractors and of the option order."""


@dataclass(frozen=True)
class McItem:
    """One everyday multiple-choice question."""

    culture: str
    """Culture id the question is about."""
    id: str
    """BLEnD question id."""
    question: str
    """The English question (names the culture)."""
    options: tuple[str, ...]
    """The options in the order they are listed."""
    answer: int
    """Index of the culture's own most common answer in `options`."""
    fold: int
    """`fold_of(id, FOLDS)`."""

    @property
    def text(self) -> str:
        """The message a person would send: the question, then its options."""
        return f"{self.question} Options: {', '.join(self.options)}"

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "options": list(self.options), "text": self.text}


def top_answer(q: BankQuestion) -> str | None:
    """The culture's most common answer in English (the first listed of a tie), or None."""
    if not q.annotations:
        return None
    best = q.annotations[0]
    text = best.en_answers[0] if best.en_answers else best.answers[0]
    return text.strip() or None


def _own_keys(q: BankQuestion) -> set[str]:
    return {
        k
        for ann in q.annotations
        for k in (normalize_answer(a) for a in (*ann.en_answers, *ann.answers))
        if k
    }


def _listable(text: str) -> bool:
    """An option that a comma-separated list can carry (no comma or quote of its own)."""
    return "," not in text and '"' not in text and "\n" not in text


def _rng(culture: str, qid: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{culture}:{qid}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def build_mc(
    bank: AnswerBank, ids: Collection[str] | None = None, *, seed: int = SEED
) -> list[McItem]:
    """One item per culture and question id of `ids` (default: every id) that has an answer
    and at least three usable distractors, in culture then file order."""
    by_id: dict[str, dict[str, BankQuestion]] = {}
    for culture, qs in bank.questions.items():
        for q in qs:
            if ids is None or q.id in ids:
                by_id.setdefault(q.id, {})[culture] = q
    items: list[McItem] = []
    for culture in bank.cultures():
        for q in bank.questions[culture]:
            if q.id not in by_id:
                continue
            right = top_answer(q)
            if right is None or not _listable(right):
                continue
            own = _own_keys(q) | {normalize_answer(right)}
            rng = _rng(culture, q.id, seed)
            others = sorted(c for c in by_id[q.id] if c != culture)
            rng.shuffle(others)
            wrong: list[str] = []
            seen = set(own)
            for other in others:
                text = top_answer(by_id[q.id][other])
                key = normalize_answer(text or "")
                if text is None or not key or key in seen or not _listable(text):
                    continue
                wrong.append(text)
                seen.add(key)
                if len(wrong) == OPTIONS - 1:
                    break
            if len(wrong) < OPTIONS - 1:
                continue
            options = [right, *wrong]
            rng.shuffle(options)
            items.append(
                McItem(
                    culture=culture,
                    id=q.id,
                    question=q.en_question.strip(),
                    options=tuple(options),
                    answer=options.index(right),
                    fold=fold_of(q.id, FOLDS),
                )
            )
    return items


def build_eval_mc(data_dir: Path, *, seed: int = SEED) -> list[McItem]:
    """The items of the evaluation half of the question ids (`is_eval_id`) in `data_dir`."""
    from manyshores.evidence.bank import is_eval_id

    bank = AnswerBank.from_dir(data_dir)
    ids = {q.id for qs in bank.questions.values() for q in qs if is_eval_id(q.id)}
    return build_mc(bank, ids, seed=seed)


def write_items(items: Iterable[McItem], path: Path) -> int:
    """Write the items as JSON lines; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n
