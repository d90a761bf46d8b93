"""Where a turn's time goes: named phases recorded only while someone is listening.

Model and memory code marks its phases (`with phase("prefill"):`); nothing is recorded, and the
cost is one global read, unless a `PhaseRecorder` is active (`manyshores bench turn` activates
one). The phases and where they are marked:

- `load`: building a collaborator on first use (`Components`), loading the embedder;
- `tokenise`, `prefill`, `decode`: the text runtimes and option scoring (`runtime/`);
- `embedding`: every MiniLM embedding (`memory.embeddings.embed`);
- `retrieval`: the knowledge base and the web for a turn (`memory.retriever`), embedding its
  query included;
- `checkpoint`: the checkpoint writes of the SQLite checkpointer (`graph.checkpoints`).

Besides phases, the recorder keeps the token ids of the last chat prompt a text runtime built
(`note_prompt`), so a benchmark can replay the same prompt on another runtime.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PhaseRecorder:
    """Seconds and counts per phase, summed over everything recorded while it was active."""

    seconds: dict[str, float] = field(default_factory=dict)
    """Phase name to total seconds spent in it."""
    counts: dict[str, int] = field(default_factory=dict)
    """Phase name to how many units it did (tokens for `decode`, calls otherwise)."""
    prompt_ids: list[int] = field(default_factory=list)
    """Token ids of the last chat prompt a text runtime built while recording (`note_prompt`)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, seconds: float, count: int = 1) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.counts[name] = self.counts.get(name, 0) + count

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.counts.clear()
            self.prompt_ids = []


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


def note_prompt(ids: Any) -> None:
    """Note the token ids of a chat prompt a text runtime built (a list or a 1-D tensor), when
    a recorder is active: the last one is kept. Converted only then, so it costs nothing
    otherwise."""
    recorder = _active
    if recorder is not None:
        tokens = ids.tolist() if hasattr(ids, "tolist") else ids
        recorder.prompt_ids = [int(t) for t in tokens]
