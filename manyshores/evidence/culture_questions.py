"""Each culture's searchable questions, and the question metric and answer map fitted on a bank."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from manyshores.evidence.bank import AnswerBank, BankQuestion
from manyshores.evidence.metric import (
    answer_key,
    answer_overlap,
    answer_targets,
    fit_answer_map,
    fit_metric,
    load_answer_map,
    load_metric,
)
from manyshores.evidence.names import culture_names
from manyshores.evidence.similarity import CharTfidf, embed_texts, strip_names


def embed_missing(known: dict[str, np.ndarray], texts: Collection[str]) -> dict[str, np.ndarray]:
    """`known`, to which the vectors of those `texts` it lacks are added (embedded once: a bank
    beyond the shipped one)."""
    missing = sorted({t for t in texts if t not in known})
    if missing:
        known.update(zip(missing, embed_texts(missing), strict=True))
    return known


def id_vectors(bank: AnswerBank, vectors: dict[str, np.ndarray], ids: Sequence[str]) -> np.ndarray:
    """One unit vector per id of `ids`: the mean of its cultures' name-stripped question vectors
    (a question id is one question in every culture)."""
    wanted = set(ids)
    texts: dict[str, list[str]] = {}
    for culture, qs in bank.questions.items():
        names = culture_names(culture, qs[0].name)
        for q in qs:
            if q.id in wanted:
                texts.setdefault(q.id, []).append(strip_names(q.en_question, names))
    known = embed_missing(vectors, [t for ts in texts.values() for t in ts])
    x = np.stack([np.mean([known[t] for t in texts[i]], axis=0) for i in ids]).astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def bank_maps(
    bank: AnswerBank, vectors: dict[str, np.ndarray], answers: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The question metric and the answer-type map for `bank`: the shipped ones when they were
    fitted on this very bank, else fitted on `bank`'s answers now (seconds). A map fitted on
    other questions would leave this bank's unseen ones out of its geometry, where they crowd
    in as neighbours."""
    fingerprint = bank.fingerprint()
    metric = load_metric(bank=fingerprint)
    answer_map = load_answer_map(bank=fingerprint)
    if metric is not None and answer_map is not None:
        return metric, answer_map
    ids = sorted({q.id for qs in bank.questions.values() for q in qs})
    rows = [q for qs in bank.questions.values() for q in qs]
    keys = sorted({answer_key(a.en_answers, a.answers) for q in rows for a in q.annotations})
    if not ids or not keys:  # nothing to learn from: MiniLM's own cosines
        eye = np.eye(384, dtype=np.float32)  # MiniLM's width
        return eye, eye
    x = id_vectors(bank, vectors, ids)
    known = embed_missing(answers, keys)
    answer_vectors = np.stack([np.asarray(known[k], dtype=np.float32) for k in keys])
    return (
        fit_metric(x, answer_overlap(bank, ids)),
        fit_answer_map(x, answer_vectors, answer_targets(bank, ids, keys)),
    )


@dataclass
class CultureEvidence:
    """The searchable questions of one culture."""

    questions: list[BankQuestion]
    """Answered questions, in bank order."""
    vectors: np.ndarray
    """Unit MiniLM vectors of the English questions, place names stripped (rows)."""
    mapped: np.ndarray
    """The same through the question metric (`metric.project`): what questions are matched by."""
    local: CharTfidf
    """Character n-grams of the local-language questions, the culture's names taken out."""
    english: CharTfidf
    """Character n-grams of the English questions (decides the language of a Latin query)."""
    names: list[str]
    """Names of the culture, stripped from English questions before they are embedded."""
    language: str
    """The culture's local language (ISO 639-1)."""
