"""Where a turn's time goes: named phases recorded only while someone is listening.

Model and memory code marks its phases (`with phase("prefill"):`); nothing is recorded, and the
cost is one global read, unless a `PhaseRecorder` is active (`manyshores bench turn` activates
one). Phases used: load, tokenise, prefill, decode, retrieval, embedding, checkpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class PhaseRecorder:
    """Seconds and counts per phase, summed over everything recorded while it was active."""

    seconds: dict[str, float] = field(default_factory=dict)
    """Phase name to total seconds spent in it."""
    counts: dict[str, int] = field(default_factory=dict)
    """Phase name to how many units it did (tokens for `decode`, calls otherwise)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, seconds: float, count: int = 1) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.counts[name] = self.counts.get(name, 0) + count

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.counts.clear()


_active: PhaseRecorder | None = None


@contextmanager
def recording(recorder: PhaseRecorder) -> Iterator[PhaseRecorder]:
    """Make `recorder` receive every phase of this process until the block ends."""
    global _active
    previous, _active = _active, recorder
    try:
        yield recorder
    finally:
        _active = previous


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as phase `name` when a recorder is active; otherwise do nothing."""
    recorder = _active
    if recorder is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        recorder.add(name, time.perf_counter() - start)


def record(name: str, seconds: float) -> None:
    """Add `seconds` measured by the caller to a phase (when its start and end are not one block)."""
    recorder = _active
    if recorder is not None:
        recorder.add(name, seconds)


def count(name: str, units: int) -> None:
    """Add `units` (e.g. generated tokens) to a phase's count without timing anything."""
    recorder = _active
    if recorder is not None:
        recorder.add(name, 0.0, units)
