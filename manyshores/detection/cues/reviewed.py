"""The reviewed additions to the open sources (`manyshores/data/cultures/cues.json`).

Short lists a person checked: festival names people use that the `holidays` package lacks,
the names the world uses for well-known dishes, landmarks and institutions (no
open offline source lists them), and how the sub-national cultures appear in GeoNames and in
`holidays`, with their census population.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from manyshores.paths import PACKAGE_CULTURES

CUES_FILE = PACKAGE_CULTURES / "cues.json"


@dataclass(frozen=True)
class Reviewed:
    """The reviewed cue lists."""

    regions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Sub-national culture id → `geonames_admin1`, `holidays_subdivision`, `population`."""
    festivals: dict[str, Any] = field(default_factory=dict)
    """Festival name → culture ids, or `{"like": [holiday names]}` to share their countries."""
    dishes: dict[str, list[str]] = field(default_factory=dict)
    """Culture id → well-known dishes and drinks (`feijoada`, `jiaozi`): the bank holds what
    people of 16 cultures named, not the names the world knows their food by."""
    landmarks: dict[str, list[str]] = field(default_factory=dict)
    """Culture id → landmarks and institutions named after it (`Taj Mahal`, `NHS`)."""


@functools.lru_cache(maxsize=1)
def reviewed() -> Reviewed:
    """The shipped lists (read once per process)."""
    raw = json.loads(CUES_FILE.read_text(encoding="utf-8"))
    return Reviewed(
        regions=dict(raw.get("regions", {})),
        festivals=dict(raw.get("festivals", {})),
        dishes={c: list(v) for c, v in raw.get("dishes", {}).items()},
        landmarks={c: list(v) for c, v in raw.get("landmarks", {}).items()},
    )
