"""Candidate answers from neighbour questions, merged across spelling variants, with features.

Two annotations are one candidate when any of their variants (local or English) normalise to the
same text (`manyshores.textnorm.normalize_answer`, the BLEnD scorer's normalisation).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from manyshores.evidence.bank import Annotation, BankQuestion
from manyshores.evidence.ranker import FEATURES
from manyshores.textnorm import is_correct, normalize_answer, tokens


@functools.lru_cache(maxsize=65536)
def answer_keys(ann: Annotation) -> frozenset[str]:
    """Normalised forms of every variant of an annotation."""
    return frozenset(k for k in (normalize_answer(a) for a in (*ann.en_answers, *ann.answers)) if k)


@dataclass
class Gathered:
    """One candidate while it is being gathered from neighbour questions."""

    keys: set[str]
    """Normalised variants (what merges annotations)."""
    english: str
    """English wording of its best-supported annotation (local when it has none); what its
    answer vector is stored under."""
    local: str
    """Local-language wording of that annotation (English when it has none)."""
    best: int
    """Index (into the neighbour list) of its most similar source question."""
    hits: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Neighbour index → (annotators, rank of the answer in that question)."""
    annotations: list[Annotation] = field(default_factory=list)
    """The annotations merged into it (what its wording is chosen from)."""


@dataclass
class KeyCounts:
    """How many questions gave each normalised answer, per culture (prior and specificity)."""

    per_culture: dict[str, Counter[str]]
    """Culture → normalised answer → number of its questions whose answers include it."""
    total: Counter[str]
    """Normalised answer → number of questions in every culture."""
    sizes: dict[str, int]
    """Culture → number of answered questions."""

    @classmethod
    def build(cls, questions: dict[str, list[BankQuestion]]) -> KeyCounts:
        per: dict[str, Counter[str]] = {}
        total: Counter[str] = Counter()
        for culture, qs in questions.items():
            c: Counter[str] = Counter()
            for q in qs:
                c.update(question_keys(q))
            per[culture] = c
            total.update(c)
        return cls(per, total, {c: len(qs) for c, qs in questions.items()})


def question_keys(q: BankQuestion) -> set[str]:
    """Normalised forms of every answer of a question."""
    return {k for ann in q.annotations for k in answer_keys(ann)}


def gather(neighbours: Sequence[BankQuestion]) -> list[Gathered]:
    """The distinct answers of the neighbour questions (most similar first)."""
    out: list[Gathered] = []
    by_key: dict[str, Gathered] = {}
    for j, q in enumerate(neighbours):
        for rank, ann in enumerate(q.annotations):
            keys = answer_keys(ann)
            if not keys:
                continue
            # Sorted: a set's order follows the process's hash seed, and an annotation whose
            # variants reach two candidates must join the same one in every process.
            found = next((by_key[k] for k in sorted(keys) if k in by_key), None)
            if found is None:
                en = ann.en_answers[0] if ann.en_answers else ann.answers[0]
                local = ann.answers[0] if ann.answers else en
                found = Gathered(set(), en, local, j)
                out.append(found)
            if j in found.hits:  # two annotations of one question merged: add them up
                n, r = found.hits[j]
                found.hits[j] = (n + ann.count, min(r, rank))
            else:
                found.hits[j] = (ann.count, rank)
            found.annotations.append(ann)
            found.keys |= keys
            for k in keys:
                by_key.setdefault(k, found)
    return out


WORDING_MAX_TOKENS = 6
"""A wording longer than this is never chosen over the first one (an answer is a few words)."""


def consensus_wording(annotations: Sequence[Annotation], first: str, *, local: bool) -> str:
    """The variant of a merged candidate that the most of its annotators' answers occur in
    (BLEnD matching): "white rice" when some said "rice" and others "white rice". `first` (the
    best-supported annotation's own wording) wins ties."""
    variants = sorted(
        {v for a in annotations for v in (a.answers if local else (a.en_answers or a.answers))}
    )
    if len(variants) < 2:
        return first

    def agreeing(variant: str) -> int:
        return sum(a.count for a in annotations if is_correct(variant, (*a.answers, *a.en_answers)))

    short = [v for v in variants if v == first or len(tokens(v)) <= WORDING_MAX_TOKENS]
    return max(short, key=lambda v: (agreeing(v), v == first, -len(v)))


def candidate_features(
    cands: Sequence[Gathered],
    neighbours: Sequence[BankQuestion],
    sims: Sequence[float],
    culture: str,
    counts: KeyCounts,
    *,
    temperature: float,
    answer_fit: Sequence[float] | None = None,
    excluded: Collection[BankQuestion] = (),
) -> np.ndarray:
    """One row of `FEATURES` per candidate.

    `excluded` questions are taken out of the prior and specificity counts (leave-one-out
    fitting: a question must not count its own answers as the culture's habits)."""
    x = np.zeros((len(cands), len(FEATURES)), dtype=np.float64)
    if not cands:
        return x
    s = np.asarray(sims, dtype=np.float64)
    w = np.exp((s - s.max()) / max(temperature, 1e-6))
    w /= w.sum()
    totals = [max(q.total, 1) for q in neighbours]
    own: Counter[str] = Counter()
    own_other: Counter[str] = Counter()
    for q in excluded:
        (own if q.culture == culture else own_other).update(question_keys(q))
    culture_counts = counts.per_culture.get(culture, Counter())
    n_culture = max(counts.sizes.get(culture, 0) - sum(q.culture == culture for q in excluded), 1)
    n_other = max(sum(counts.sizes.values()) - n_culture - len(excluded), 1)
    for i, c in enumerate(cands):
        b = c.best
        n_best, rank_best = c.hits[b]
        prior = max(culture_counts[k] - own[k] for k in c.keys)
        other = max(counts.total[k] - culture_counts[k] - own_other[k] for k in c.keys)
        x[i] = (
            s[b],
            sum(w[j] * n / totals[j] for j, (n, _) in c.hits.items()),
            n_best / totals[b],
            math.log1p(sum(n for n, _ in c.hits.values())),
            float(rank_best == 0),
            math.log1p(rank_best),
            math.log1p(len(c.hits)),
            math.log1p(max(prior, 0)),
            math.log((max(prior, 0) + 1) / n_culture) - math.log((max(other, 0) + 1) / n_other),
            answer_fit[i] if answer_fit is not None else 0.0,
        )
    return x
