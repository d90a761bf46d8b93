"""BLEnD short-answer questions, as the evaluations read them (one row per culture and question)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from manyshores.blend_files import read_blend_dir
from manyshores.errors import InvalidInputError


@dataclass(frozen=True)
class BlendQuestion:
    """One BLEnD question of one culture with its human answers."""

    id: str
    """BLEnD question id (the same id across cultures)."""
    culture: str
    """Culture id."""
    question: str
    """English question."""
    local_question: str
    """Question in the local language."""
    answers: tuple[str, ...]
    """Every human answer variant, English and local."""


def load_questions(
    data_dir: Path, cultures: Sequence[str] | None = None, limit: int | None = None
) -> list[BlendQuestion]:
    """Questions with at least one human answer, per culture in file order (`limit` per culture)."""
    wanted = {c.upper() for c in cultures} if cultures else None
    out: list[BlendQuestion] = []
    for _, rows in read_blend_dir(data_dir):
        taken = 0
        for row in rows:
            if wanted is not None and str(row["culture"]).upper() not in wanted:
                break
            answers = tuple(
                str(a)
                for ann in row.get("annotations") or []
                for a in [*ann.get("en_answers", []), *ann.get("answers", [])]
                if str(a).strip()
            )
            if not answers:
                continue
            out.append(
                BlendQuestion(
                    str(row["id"]),
                    str(row["culture"]),
                    str(row.get("en_question") or row["question"]),
                    str(row.get("question") or ""),
                    answers,
                )
            )
            taken += 1
            if limit is not None and taken >= limit:
                break
    if wanted is not None and not out:
        raise InvalidInputError(f"{data_dir}: no questions for cultures {sorted(wanted)}")
    return out
