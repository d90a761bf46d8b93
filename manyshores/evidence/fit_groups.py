"""The ranker's training data: every training question asked as a new question would be.

A `Group` is one asked question's candidates (their features) and which of them are right.
Each question is asked of a bank that does not hold it (`crossfit_groups`: the other folds'
ids, with the question metric fitted on that bank), so the features look as they will for a
question the shipped bank has never seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from manyshores.evidence.bank import AnswerBank, BankQuestion, fold_of
from manyshores.evidence.culture_questions import bank_maps
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.ranker import FEATURES, RankerModel
from manyshores.textnorm import is_correct

LANGUAGES = ("en", "local")
"""A question is asked in English and, when its culture writes another language, in that."""

Group = tuple[str, str, np.ndarray, np.ndarray, str]
"""One asked question: (question id, culture, candidates' features, right-or-not, `en` or
`local`)."""


def row_answers(q: BankQuestion) -> list[str]:
    """Every human answer variant of a row (what the BLEnD scorer accepts)."""
    return [a for ann in q.annotations for a in (*ann.en_answers, *ann.answers)]


def training_groups(
    index: EvidenceIndex,
    languages: Sequence[str] = LANGUAGES,
    *,
    twin: bool = False,
    asked: AnswerBank | None = None,
) -> list[Group]:
    """A `Group` for every bank question and language, each asked with its id left out (its
    rows in every culture: neighbours and counts); or for every question of `asked`, a bank
    that shares no id with the index's. `twin` (a diagnostic): local-language
    questions get the neighbours of their English twin and keep local-language answers, which
    separates what finding neighbours costs them from what matching local answers costs."""
    out = []
    rows_of: dict[str, list[BankQuestion]] = {}
    for qs in index.bank.questions.values():
        for q in qs:
            rows_of.setdefault(q.id, []).append(q)
    questions = (asked or index.bank).questions
    for culture in index.cultures():
        for q in questions.get(culture, []):
            own = [] if asked is not None else [q.id]  # an asked bank's ids are not in the index
            answers = row_answers(q)
            for lang in languages:
                if lang == "local" and q.language == "en":
                    continue
                text = q.en_question if lang == "en" else q.question
                sims, matched, vec = index.match(
                    text, culture, "en" if lang == "en" else q.language, own
                )
                if twin and lang == "local":
                    sims, _, vec = index.match(q.en_question, culture, "en", own)
                ev = index.rank_similar(
                    culture,
                    sims,
                    matched,
                    vec,
                    exclude_ids=own,
                    k=10_000,
                    # The id's rows in every culture, as for a question not in the bank at all.
                    excluded_rows=rows_of.get(q.id, []) if own else (),
                    with_sources=False,
                )
                x = np.asarray(
                    [[c.features[f] for f in FEATURES] for c in ev.candidates], dtype=np.float64
                ).reshape(-1, len(FEATURES))
                y = np.asarray([is_correct(c.text, answers) for c in ev.candidates], dtype=bool)
                out.append((q.id, culture, x, y, lang))
    return out


def crossfit_groups(
    bank: AnswerBank,
    model: RankerModel,
    vectors: dict[str, np.ndarray],
    answers: dict[str, np.ndarray],
    folds: int,
    *,
    metric: bool = True,
) -> tuple[list[Group], list[EvidenceIndex]]:
    """`training_groups` of every bank question, each fold's questions asked of a bank of the
    other folds with the question metric fitted on that bank, as a new question meets the
    shipped bank and its metric: a metric that had learnt from a question's own answers would
    make its neighbours look better than they will be. Also the per-fold indexes. `metric`
    false: MiniLM's cosine, and every question asked of the whole bank without its own id."""
    if not metric:
        index = EvidenceIndex(bank, model, vectors, answers)
        return training_groups(index), [index] * folds
    ids = {q.id for qs in bank.questions.values() for q in qs}
    groups: list[Group] = []
    indexes = []
    for f in range(folds):
        inside = bank.restricted({i for i in ids if fold_of(i, folds) != f})
        outside = bank.restricted({i for i in ids if fold_of(i, folds) == f})
        index = EvidenceIndex(inside, model, vectors, answers, *bank_maps(inside, vectors, answers))
        groups += training_groups(index, asked=outside)
        indexes.append(index)
    return groups, indexes
