"""`manyshores bench graph`: what the graph itself costs per turn, beside the model's own work.

A turn's wall time is split into time inside neural forward passes (the base model and the
embedding model, measured with forward hooks) and web calls, and everything else: detection
logic, routing, aggregation, state reducers, checkpoint writes. "Everything else" is the graph's
overhead. Both are measured in the same turns, side by side.
"""

from __future__ import annotations

import json
import statistics
import tempfile
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


class ForwardTimer:
    """Accumulates wall time spent inside the forward of the given torch modules."""

    def __init__(self, modules: list[Any]) -> None:
        self.total = 0.0
        self._depth = 0
        self._start = 0.0
        self._handles = []
        for module in modules:
            self._handles.append(module.register_forward_pre_hook(self._pre))
            self._handles.append(module.register_forward_hook(self._post))

    def _pre(self, *_: Any) -> None:
        if self._depth == 0:
            self._start = time.perf_counter()
        self._depth += 1

    def _post(self, *_: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.total += time.perf_counter() - self._start

    def close(self) -> None:
        for h in self._handles:
            h.remove()


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
        base = assistant.components.get_base()
        timer = ForwardTimer([base.model, load_embedder()])
        for i in range(warmup):
            assistant.invoke(QUESTIONS[i % len(QUESTIONS)], thread_id="warmup")
        walls: list[float] = []
        model: list[float] = []
        for i in range(turns):
            timer.total = 0.0
            start = time.perf_counter()
            assistant.invoke(QUESTIONS[i % len(QUESTIONS)], thread_id=f"t{i // len(QUESTIONS)}")
            walls.append(time.perf_counter() - start)
            model.append(timer.total)
        timer.close()
    overhead = [w - m for w, m in zip(walls, model)]
    report = {
        "benchmark": "graph",
        "turns": turns,
        "base_model": settings.base_model,
        "turn_wall_ms_p50": round(1000 * statistics.median(walls), 2),
        "model_forward_ms_p50": round(1000 * statistics.median(model), 2),
        "graph_overhead_ms_p50": round(1000 * statistics.median(overhead), 2),
        "graph_overhead_ms_p90": round(1000 * _percentile(overhead, 0.9), 2),
        "overhead_share_of_turn_p50": round(statistics.median(o / w for o, w in zip(overhead, walls)), 4),
        "web": "skipped (no key): web time is excluded by construction",
    }
    if out:
        out.write_text(json.dumps(report, indent=2))
    return report
