"""A turn's time budget (`MANYSHORES_TURN_TIMEOUT_S`): model work stops when it is spent.

The caller running a turn puts the deadline in the run's config (`DEADLINE_KEY`, a
`time.monotonic()` value); a graph run by a host that knows nothing of it gets a budget from the
start of its expert node. The expert node opens `budget_scope` around its model work, and
generation loops read it through `current()` and stop with what they have.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

DEADLINE_KEY = "turn_deadline"
"""Key of the deadline in the run config's `configurable`."""


@dataclass
class Budget:
    """One turn's deadline and whether some work was cut short by it."""

    deadline: float
    """`time.monotonic()` value after which model work stops."""
    seconds: float
    """The budget the turn was given, for messages."""
    cut: bool = False
    """Set by the work that stopped early."""

    def spent(self) -> bool:
        """True once the deadline has passed; the work asking stops, so the budget is `cut`."""
        over = time.monotonic() > self.deadline
        if over:
            self.cut = True
        return over


_current: ContextVar[Budget | None] = ContextVar("manyshores_turn_budget", default=None)


def deadline_after(seconds: float | None) -> float | None:
    """The deadline `seconds` from now (None or <= 0: no deadline)."""
    return time.monotonic() + seconds if seconds and seconds > 0 else None


@contextmanager
def budget_scope(deadline: float | None, seconds: float | None) -> Iterator[Budget | None]:
    """Model work inside the block stops at `deadline`, or `seconds` from now without one."""
    deadline = deadline if deadline is not None else deadline_after(seconds)
    if deadline is None:
        yield None
        return
    budget = Budget(deadline=deadline, seconds=float(seconds or 0.0))
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def current() -> Budget | None:
    """The budget of the model work this code runs in, if any."""
    return _current.get()
