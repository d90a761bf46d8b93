"""`manyshores bench graph`: what the graph itself costs per turn, beside the model's own work.

A turn's wall time is split into time inside model work (every expert's forward passes and
decoding on the base model, and the embedding model) and web calls, and everything else:
detection logic, knowledge-base lookups, routing, aggregation, state reducers, checkpoint writes. "Everything else" is the graph's
overhead. Both are measured in the same turns, side by side.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

QUESTIONS = [
    "I'm from Kenya. What do families usually eat for breakfast?",
    "How important is family in your life? Options: Very important, Rather important, "
    "Not very important, Not at all important",
    "¿Qué se come en Nochebuena en México?",
    "What gift should I bring to a dinner in Japan?",
    "And what should I avoid saying?",
]


class IntervalRecorder:
    """Records the wall-clock intervals spent inside wrapped calls, from any thread.

    Expert nodes run in parallel threads, so their times overlap; the union of the intervals
    (not their sum) is what a turn actually spent waiting on models.
    """

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def wrap(self, obj: Any, method: str) -> None:
        inner = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                with self._lock:
                    self.intervals.append((start, time.perf_counter()))

        setattr(obj, method, timed)

    def covered(self, since: float) -> float:
        """Seconds after `since` covered by at least one recorded interval."""
        spans = sorted((max(a, since), b) for a, b in self.intervals if b > since)
        total, end = 0.0, since
        for a, b in spans:
            if b > end:
                total += b - max(a, end)
                end = b
        return total


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_graph_bench(turns: int = 20, warmup: int = 3, out: Path | None = None) -> dict[str, Any]:
    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.graph.components import Components
    from manyshores.memory.embeddings import load_embedder

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(checkpoint_db=Path(tmp) / "bench.sqlite", tavily_api_key=None)
        assistant = CultureAssistant(Components(settings=settings))
        components = assistant.components
        recorder = IntervalRecorder()
        # Model work: every expert's forward passes and decoding, and the embedding model.
        recorder.wrap(components.get_experts(), "answer")
        recorder.wrap(load_embedder(), "encode")
        for i in range(warmup):
            assistant.invoke(QUESTIONS[i % len(QUESTIONS)], thread_id="warmup")
        walls: list[float] = []
        model: list[float] = []
        for i in range(turns):
            start = time.perf_counter()
            assistant.invoke(QUESTIONS[i % len(QUESTIONS)], thread_id=f"t{i // len(QUESTIONS)}")
            walls.append(time.perf_counter() - start)
            model.append(recorder.covered(start))
    overhead = [w - m for w, m in zip(walls, model)]
    report = {
        "benchmark": "graph",
        "turns": turns,
        "base_model": settings.base_model,
        "turn_wall_ms_p50": round(1000 * statistics.median(walls), 2),
        "model_ms_p50": round(1000 * statistics.median(model), 2),
        "graph_overhead_ms_p50": round(1000 * statistics.median(overhead), 2),
        "graph_overhead_ms_p90": round(1000 * _percentile(overhead, 0.9), 2),
        "overhead_share_of_turn_p50": round(
            statistics.median(o / w for o, w in zip(overhead, walls)), 4
        ),
        "overhead_ms_each_turn": [round(1000 * o, 2) for o in overhead],
        "web": "skipped (no key): web time is excluded by construction",
    }
    if out:
        out.write_text(json.dumps(report, indent=2))
    return report
