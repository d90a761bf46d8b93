"""Dish, drink and custom cues: what one culture's people answered and others did not.

The answer bank (BLEnD's human answers, CC BY-SA 4.0, shipped in `manyshores/data/blend/`)
holds, per culture, what people named for everyday questions: dishes, drinks, clubs, customs,
places. A term given by the people of one culture (or two sharing it, such as South and North
Korea) and by nobody else, in any of its spellings, is a cue for them: `bougatsa`, `tteokguk`,
`sabritas`. Only the training half of the question ids is read (`evidence.bank.is_eval_id`),
so no term reaches the detector from a question an evaluation asks.

Left out: terms given by a single annotator (chance), terms every word of which is an English
word (`on sunday`, `steamed bun`: an annotator's translation, distinctive only by accident),
words of the (training-half) questions themselves (`utensil` answers "What cooking utensil…"),
numbers, and long phrases nobody would type. A term counts across languages only: given as a local answer, it
is a word of that language (`nasi goreng` in Indonesian, `원족` in North Korean usage), and the
detector ignores it in messages written in that language; in an English question it names the
culture.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from manyshores.detection.cues.words import OrdinaryWords, tokens
from manyshores.paths import PACKAGE_BLEND

MAX_CULTURES = 2
"""A term given by more cultures than this is shared, not distinctive."""
MIN_ANNOTATORS = 2
"""Annotators of the culture who must have given the term (one is chance)."""
MAX_WORDS = 4
MAX_CHARS = 40


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class BankTerm:
    """A distinctive term and who gave it."""

    counts: dict[str, float]
    """Culture id → annotators who gave it."""
    languages: frozenset[str]
    """Languages it was given in as an answer of its own (a local answer's language; English
    only for the cultures whose questions are in English): a word of that language, which says
    nothing in messages written in it (`원족` is North Korean usage, `bocadillo` Spanish)."""


def bank_terms(words: OrdinaryWords, directory: Path = PACKAGE_BLEND) -> dict[str, BankTerm]:
    """Term → who gave it and in which language, for the distinctive terms."""
    from manyshores.evidence.bank import AnswerBank, is_eval_id

    bank = AnswerBank.from_dir(directory)
    counts: dict[str, dict[str, float]] = {}
    languages: dict[str, set[str]] = {}
    asked: set[str] = set()
    for culture, questions in bank.questions.items():
        for q in questions:
            if is_eval_id(q.id):
                continue  # evaluated question ids: none of their answers may become a cue
            asked |= _phrases(q.question) | _phrases(q.en_question)
            for ann in q.annotations:
                local = _surfaces(ann.answers)
                for term in local | _surfaces(ann.en_answers):
                    slot = counts.setdefault(term, {})
                    slot[culture] = slot.get(culture, 0.0) + ann.count
                    if term in local:
                        languages.setdefault(term, set()).add(q.language)
    out: dict[str, BankTerm] = {}
    for term, by_culture in counts.items():
        if len(by_culture) > MAX_CULTURES or max(by_culture.values()) < MIN_ANNOTATORS:
            continue
        if words.english_vocabulary(term):
            continue  # `on sunday`, `steamed bun`: an annotator's English, not a name
        if " ".join(tokens(term)) in asked:
            continue  # a word of the questions (`utensil`, `preparatoria`): the topic, not a cue
        out[term] = BankTerm(by_culture, frozenset(languages.get(term, ())))
    return out


def _phrases(question: str) -> set[str]:
    """Every run of up to `MAX_WORDS` words of a question, and in scripts written without
    spaces every run of two to six letters."""
    words = tokens(question)
    found = {" ".join(words[i : i + n]) for n in range(1, MAX_WORDS + 1)
             for i in range(len(words) - n + 1)}  # fmt: skip
    for word in words:
        if not word.isascii() and len(word) > 6:
            found |= {word[i : i + n] for n in range(2, 7) for i in range(len(word) - n + 1)}
    return found


def _surfaces(answers: Iterable[str]) -> set[str]:
    found = set()
    for answer in answers:
        term = _normal(answer)
        parts = tokens(term)
        if not parts or len(parts) > MAX_WORDS or len(term) > MAX_CHARS:
            continue
        if any(ch.isdigit() for ch in term):
            continue
        found.add(term)
    return found
