"""A cited bank row as the state's `Source`: the question and its answers with counts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from manyshores.evidence.bank import BankQuestion
    from manyshores.state import Source

SNIPPET_ANSWERS = 8
"""Answers quoted in a source's snippet."""


def source(q: BankQuestion, similarity: float, local: bool) -> Source:
    """The state's `Source` for a cited row: the question and its answers with counts."""
    from manyshores.state import Source

    answers = [
        f"{(a.answers[0] if local and a.answers else (a.en_answers or a.answers)[0])} ({a.count})"
        for a in q.annotations[:SNIPPET_ANSWERS]
    ]
    text = q.question if local else q.en_question
    return Source(
        kind="memory",
        ref=q.ref,
        snippet=_clean(f"{text} — {'; '.join(answers)}"),
        culture=q.culture,
        score=round(float(similarity), 4),
    )


def _clean(text: str) -> str:
    """One line of plain text (answers are data: no control characters reach the snippet)."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
