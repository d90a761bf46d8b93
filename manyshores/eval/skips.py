"""Items an evaluation cannot ask: counted and reported as skipped, never a reason to stop.

Real data sets have holes (a BLEnD record with an empty local question, a survey row whose
shares do not match its options, a case file with a torn line). An evaluation that stops at the
first one measures nothing; one that drops them silently measures a different set than it says.
Every runner records them here and puts `Skips.report()` in its report under `skipped`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from manyshores.content import check_message_text
from manyshores.errors import InvalidInputError

SHOWN = 20
"""Skipped items listed one by one in a report (all are counted)."""


@dataclass
class Skips:
    """The items one evaluation skipped, with why."""

    items: list[dict[str, Any]] = field(default_factory=list)
    """One entry per skipped item: `reason` and where it is (culture, id, language, line…)."""

    def add(self, reason: str, **where: Any) -> None:
        self.items.append({**where, "reason": reason})

    def __len__(self) -> int:
        return len(self.items)

    def report(self) -> dict[str, Any]:
        """`{"n", "by_reason", "items"}` (the first `SHOWN` items)."""
        return {
            "n": len(self.items),
            "by_reason": dict(Counter(str(i["reason"]) for i in self.items).most_common()),
            "items": self.items[:SHOWN],
        }


def unaskable(text: object) -> str | None:
    """Why `text` cannot be asked as a message (blank, binary, not words), or None when it can:
    the graph's own input rule (`content.check_message_text`), so nothing is asked that `ask`
    would refuse."""
    if not isinstance(text, str):
        return f"not text ({type(text).__name__})"
    try:
        check_message_text(text)
    except InvalidInputError as exc:
        return str(exc).split(":")[0]
    return None


def bad_shares(shares: object, n_options: int) -> str | None:
    """Why a survey row's answer shares cannot be scored, or None when they can."""
    if not isinstance(shares, list | tuple) or not shares:
        return "no answer shares"
    if len(shares) != n_options:
        return f"{len(shares)} shares for {n_options} options"
    if not all(isinstance(x, int | float) and math.isfinite(x) and x >= 0 for x in shares):
        return "shares that are not non-negative numbers"
    if sum(shares) <= 0:
        return "shares that sum to zero"
    return None
