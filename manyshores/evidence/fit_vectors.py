"""The shipped question and answer vectors (and the culture names stripped before embedding),
written afresh from a bank: `python -m manyshores.evidence.fit --vectors`."""

from __future__ import annotations

import json
from pathlib import Path

from manyshores.evidence.bank import AnswerBank
from manyshores.evidence.metric import answer_key
from manyshores.evidence.multilingual import PACKAGE_E5, embed_multilingual
from manyshores.evidence.names import PACKAGE_NAMES, culture_names
from manyshores.evidence.similarity import (
    PACKAGE_ANSWERS,
    PACKAGE_VECTORS,
    embed_texts,
    save_vectors,
    strip_local_names,
    strip_names,
)


def build_vectors(bank: AnswerBank, path: Path = PACKAGE_VECTORS) -> int:
    """Embed every bank question (English, place names stripped) and write them to `path`."""
    texts = set()
    all_names = {}
    for culture, qs in sorted(bank.questions.items()):
        names = culture_names(culture, qs[0].name, registry=True)
        all_names[culture] = names
        texts |= {strip_names(q.en_question, names) for q in qs}
    PACKAGE_NAMES.write_text(
        json.dumps(all_names, ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
    )
    ordered = sorted(texts)
    save_vectors(path, dict(zip(ordered, embed_texts(ordered), strict=True)))
    answers = sorted(
        {
            answer_key(a.en_answers, a.answers)
            for qs in bank.questions.values()
            for q in qs
            for a in q.annotations
        }
    )
    save_vectors(PACKAGE_ANSWERS, dict(zip(answers, embed_texts(answers), strict=True)))
    return len(ordered) + len(answers) + build_multilingual_vectors(bank, all_names)


def build_multilingual_vectors(
    bank: AnswerBank, names: dict[str, list[str]], path: Path = PACKAGE_E5
) -> int:
    """Embed every bank question, local and English, with the multilingual encoder (the
    culture's names stripped) and write them to `path` (about 3 min on one core)."""
    texts: set[str] = set()
    for culture, qs in bank.questions.items():
        texts |= {strip_names(q.en_question, names[culture]) for q in qs}
        texts |= {strip_local_names(q.question, names[culture]) for q in qs if q.language != "en"}
    ordered = sorted(texts)
    save_vectors(path, dict(zip(ordered, embed_multilingual(ordered), strict=True)))
    return len(ordered)
