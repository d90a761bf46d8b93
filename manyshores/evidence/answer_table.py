"""Every culture's answers in one table: who says an answer like this one, to a question like
this one.

An everyday multiple-choice question pits a culture's most common answer against what people
elsewhere answer to the same question (BLEnD builds its options that way). The question asked is
rarely in the bank, so the options are rarely among the answers to the culture's own similar
questions; but each option is usually near some culture's answers. Two views of "whose answer is
this", built once per bank:

- `rows`: every annotation of every culture with its answer vector, for a nearest-answers vote
  weighted by how similar the row's question is to the asked one and its answer to the option;
- `grams`: per culture, character n-grams of its English answers (romanised dish names, place
  names and words of a language share their letters: "tteokbokki", "injera", "nasi").
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from manyshores.evidence.bank import AnswerBank, BankQuestion
from manyshores.textnorm import normalize_answer

NGRAMS = (2, 3, 4)
"""Character n-gram lengths of the answer-letters model."""
GRAM_ALPHA = 0.5
"""Additive smoothing of the n-gram counts."""


def answer_text(ann: Any) -> str:
    """An annotation's English wording (its local one when it has none): what its vector is."""
    return str(ann.en_answers[0] if ann.en_answers else ann.answers[0])


def grams(text: str) -> list[str]:
    """Character n-grams of the normalised text, with word boundaries as spaces."""
    padded = f" {normalize_answer(text)} "
    return [padded[i : i + n] for n in NGRAMS for i in range(len(padded) - n + 1)]


@dataclass
class AnswerTable:
    """The bank's annotations, one row each, and each culture's answer letters."""

    cultures: list[str]
    """Culture ids, in the order `owner` indexes them."""
    questions: list[list[BankQuestion]]
    """Each culture's questions, in the bank's (and the index's) order."""
    owner: np.ndarray
    """Row → index into `cultures`."""
    position: np.ndarray
    """Row → index of its question in that culture's `questions`."""
    share: np.ndarray
    """Row → the share of the question's annotators who gave it."""
    annotation: np.ndarray
    """Row → index of the annotation within its question."""
    vectors: np.ndarray
    """Row → unit answer vector (rows share the array of their distinct texts)."""
    gram_counts: list[Counter[str]]
    """Per culture: in how many of its annotations each n-gram occurs."""
    gram_totals: np.ndarray
    """Per culture: the sum of its n-gram counts."""
    vocabulary: int
    """Distinct n-grams over all cultures (the smoothing's denominator)."""
    by_text: dict[str, list[int]]
    """Normalised wording (any variant, English or local) → the rows that have it: an option
    in the culture's own script has no useful English vector, but its words match."""

    @classmethod
    def build(cls, bank: AnswerBank, vectors_of: Any) -> AnswerTable:
        """`vectors_of(texts)`: unit answer vectors (the index's `answer_vectors`)."""
        cultures = bank.cultures()
        owner: list[int] = []
        position: list[int] = []
        share: list[float] = []
        annotation: list[int] = []
        texts: list[str] = []
        counts: list[Counter[str]] = []
        by_text: dict[str, list[int]] = {}
        for ci, culture in enumerate(cultures):
            letters: Counter[str] = Counter()
            for qi, q in enumerate(bank.questions[culture]):
                total = max(q.total, 1)
                for ai, ann in enumerate(q.annotations):
                    for key in {normalize_answer(v) for v in (*ann.en_answers, *ann.answers)}:
                        if key:
                            by_text.setdefault(key, []).append(len(owner))
                    owner.append(ci)
                    position.append(qi)
                    share.append(ann.count / total)
                    annotation.append(ai)
                    texts.append(answer_text(ann))
                    letters.update({g for v in (ann.en_answers or ann.answers) for g in grams(v)})
            counts.append(letters)
        distinct = sorted(set(texts))
        where = {t: i for i, t in enumerate(distinct)}
        unique = np.asarray(vectors_of(distinct), dtype=np.float32).reshape(len(distinct), -1)
        return cls(
            cultures=cultures,
            questions=[bank.questions[c] for c in cultures],
            owner=np.asarray(owner, dtype=np.int64),
            position=np.asarray(position, dtype=np.int64),
            share=np.asarray(share, dtype=np.float64),
            annotation=np.asarray(annotation, dtype=np.int64),
            vectors=unique[np.asarray([where[t] for t in texts], dtype=np.int64)]
            if texts
            else unique,
            gram_counts=counts,
            gram_totals=np.asarray([sum(c.values()) for c in counts], dtype=np.float64),
            vocabulary=len(set().union(*counts)) if counts else 0,
            by_text=by_text,
        )

    def letters_log_odds(self, culture: str, options: Sequence[str]) -> np.ndarray:
        """Per option: the mean log-probability of its n-grams under `culture`'s answers, minus
        the log of its mean probability under every culture's (0 for an unknown culture)."""
        if culture not in self.cultures:
            return np.zeros(len(options))
        own = self.cultures.index(culture)
        out = np.zeros(len(options))
        for k, option in enumerate(options):
            gs = grams(option)
            if not gs:
                continue
            logp = np.asarray(
                [
                    sum(
                        math.log((c[g] + GRAM_ALPHA) / (t + GRAM_ALPHA * self.vocabulary))
                        for g in gs
                    )
                    / len(gs)
                    for c, t in zip(self.gram_counts, self.gram_totals, strict=True)
                ]
            )
            out[k] = logp[own] - (np.logaddexp.reduce(logp) - math.log(len(logp)))
        return out


_TABLES: weakref.WeakKeyDictionary[Any, AnswerTable] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def answer_table(index: Any) -> AnswerTable:
    """The table of an evidence index's bank, built on first use (about a second) and kept as
    long as the index lives."""
    with _LOCK:
        found = _TABLES.get(index)
        if found is None:
            found = AnswerTable.build(index.bank, index.answer_vectors)
            _TABLES[index] = found
    return found
