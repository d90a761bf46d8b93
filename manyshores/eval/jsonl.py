"""JSON lines: the one reader and writer of every evaluation's cases, predictions and queries.

Predictions are appended one line at a time, so a run killed mid-write leaves a torn last line;
`read_jsonl(..., resume=True)` drops it (that record is redone), anywhere else a bad line is a
clear error with its line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError

if TYPE_CHECKING:
    from manyshores.eval.skips import Skips


def read_jsonl(
    path: Path, *, resume: bool = False, skips: Skips | None = None
) -> list[dict[str, Any]]:
    """The objects of a JSONL file (blank lines skipped). With `resume`, a missing file is empty
    and a torn last line is dropped. With `skips`, a line that is not a JSON object is recorded
    there and left out instead of stopping the read."""
    path = Path(path)
    if resume and not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc}") from exc
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    out: list[dict[str, Any]] = []
    for i, (lineno, line) in enumerate(numbered):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if resume and i == len(numbered) - 1:
                break  # the torn last line of an interrupted run
            if skips is not None:
                skips.add("not JSON", line=lineno)
                continue
            raise InvalidInputError(f"{path}:{lineno}: not JSON: {exc}") from exc
        if not isinstance(row, dict):
            if skips is not None:
                skips.add("not a JSON object", line=lineno)
                continue
            raise InvalidInputError(f"{path}:{lineno}: not a JSON object")
        out.append(row)
    return out


def write_jsonl(records: Iterable[dict[str, Any]], path: Path, *, append: bool = False) -> int:
    """Write (or append) one JSON object per line, non-ASCII kept; returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n
