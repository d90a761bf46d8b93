"""BLEnD files: a directory of `*.json` files, one per culture, each a list of rows.

The one reader of their JSON: the answer bank (`evidence.bank`), the knowledge base's passages
(`memory.ingest`), the evaluations and the command line all read rows through it, so a file
that is not BLEnD gives the same clear error everywhere. What a row means is theirs to say.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from manyshores.errors import InvalidInputError

Row = dict[str, Any]
"""One BLEnD row: `id`, `culture`, `question`, `en_question`, `annotations`, ..."""


def blend_files(directory: Path) -> list[Path]:
    """The BLEnD files of `directory`, in name order (an error when there are none)."""
    files = sorted(p for p in Path(directory).glob("*.json") if p.is_file())
    if not files:
        raise InvalidInputError(f"{directory}: no BLEnD *.json files found")
    return files


def read_blend_file(path: Path) -> list[Row]:
    """The rows of one BLEnD file."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path}: not a BLEnD JSON file: {exc}") from exc
    if not isinstance(rows, list):
        raise InvalidInputError(f"{path}: not a BLEnD JSON file (expected a list of rows)")
    return rows


def read_blend_dir(directory: Path) -> list[tuple[Path, list[Row]]]:
    """Every BLEnD file of `directory` with its rows, in name order."""
    return [(path, read_blend_file(path)) for path in blend_files(directory)]


def blend_rows(directory: Path) -> list[Row]:
    """Every row of every BLEnD file of `directory`, file after file."""
    return [row for _, rows in read_blend_dir(directory) for row in rows]
