"""`manyshores bench graph`: what the graph itself costs per turn, beside the model's own work.

A turn's wall time is split into time inside model work (every expert's forward passes and
decoding on the base model, and the embedding model) and web calls, and everything else:
detection logic, knowledge-base lookups, routing, aggregation, state reducers, checkpoint writes. "Everything else" is the graph's
overhead. Both are measured in the same turns, side by side.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from manyshores.eval.metrics.stats import percentile

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


@dataclass
class _Series:
    """Per-turn measurements of one way of running the graph."""

    walls: list[float] = field(default_factory=list)
    model: list[float] = field(default_factory=list)
    node_walls: dict[str, list[float]] = field(default_factory=dict)
    # What the nodes' own code took (model work included), to set against the run around
    # them: LangGraph's step machinery, checkpoint writes, reading the state back.
    in_nodes: list[float] = field(default_factory=list)

    def add(self, wall: float, model: float, values: dict[str, Any]) -> None:
        self.walls.append(wall)
        self.model.append(model)
        this_turn: dict[str, float] = {}
        for record in values.get("steps", []):
            if record.get("turn") == values.get("turn"):  # parallel expert tasks overlap
                name = record["node"]
                this_turn[name] = max(this_turn.get(name, 0.0), record["seconds"])
        for name, seconds in this_turn.items():
            self.node_walls.setdefault(name, []).append(seconds)
        self.in_nodes.append(sum(this_turn.values()))

    def report(self) -> dict[str, Any]:
        overhead = [w - m for w, m in zip(self.walls, self.model)]
        return {
            "turn_wall_ms_p50": round(1000 * statistics.median(self.walls), 2),
            "model_ms_p50": round(1000 * statistics.median(self.model), 2),
            "graph_overhead_ms_p50": round(1000 * statistics.median(overhead), 2),
            "graph_overhead_ms_p90": round(1000 * percentile(overhead, 0.9), 2),
            "overhead_share_of_turn_p50": round(
                statistics.median(o / w for o, w in zip(overhead, self.walls)), 4
            ),
            "overhead_ms_each_turn": [round(1000 * o, 2) for o in overhead],
            "node_wall_ms_p50": {
                k: round(1000 * statistics.median(v), 2) for k, v in self.node_walls.items()
            },
            "outside_nodes_ms_p50": round(
                1000 * statistics.median(w - n for w, n in zip(self.walls, self.in_nodes)), 2
            ),
        }


def run_graph_bench(
    turns: int = 20, warmup: int = 3, out: Path | None = None, otel_endpoint: str | None = None
) -> dict[str, Any]:
    """Overhead per turn with checkpoints per turn (the default) and per step, turn by turn
    side by side on the same components, so machine noise hits both alike. With
    `otel_endpoint`, a third series runs the default with OpenTelemetry export to it on."""
    from manyshores import telemetry
    from manyshores.components import Components
    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.memory.embeddings import load_embedder

    with tempfile.TemporaryDirectory() as tmp:
        # Answers are capped at 16 new tokens: the overhead does not depend on answer length,
        # and short answers keep the benchmark quick.
        settings = Settings(
            checkpoint_db=Path(tmp) / "bench.sqlite", tavily_api_key=None, max_new_tokens=16
        )
        components = Components(settings=settings)
        durabilities: dict[str, Literal["turn", "step"]] = {"turn": "turn", "step": "step"}
        if otel_endpoint:
            durabilities["turn+otel"] = "turn"
        modes = tuple(durabilities)
        assistants = {
            mode: CultureAssistant(components, durability=durability)
            for mode, durability in durabilities.items()
        }
        saved_endpoint = os.environ.pop(telemetry.ENDPOINT_ENV, None)

        def export(mode: str) -> None:
            """Export on for the `turn+otel` series only (read by each node as it runs)."""
            if mode == "turn+otel" and otel_endpoint:
                os.environ[telemetry.ENDPOINT_ENV] = otel_endpoint
            else:
                os.environ.pop(telemetry.ENDPOINT_ENV, None)

        recorder = IntervalRecorder()
        # Model work: every expert's forward passes and decoding, and the embedding model.
        recorder.wrap(components.get_experts(), "answer")
        recorder.wrap(load_embedder(), "encode")
        try:
            for i in range(warmup):
                for mode in modes:
                    export(mode)
                    assistants[mode].invoke(QUESTIONS[i % len(QUESTIONS)], thread_id=f"warm-{mode}")
            series = {mode: _Series() for mode in modes}
            for i in range(turns):
                for mode in modes if i % 2 == 0 else modes[::-1]:
                    export(mode)
                    start = time.perf_counter()
                    result = assistants[mode].invoke(
                        QUESTIONS[i % len(QUESTIONS)], thread_id=f"{mode}-{i // len(QUESTIONS)}"
                    )
                    series[mode].add(
                        time.perf_counter() - start, recorder.covered(start), result.values
                    )
        finally:
            os.environ.pop(telemetry.ENDPOINT_ENV, None)
            if saved_endpoint is not None:
                os.environ[telemetry.ENDPOINT_ENV] = saved_endpoint
            telemetry.flush()
    reports = {mode: series[mode].report() for mode in modes}
    default = settings.checkpoint_durability
    report = {
        "benchmark": "graph",
        "turns": turns,
        "base_model": settings.base_model,
        "checkpoint_durability": default,
        **{k: v for k, v in reports[default].items() if k != "overhead_ms_each_turn"},
        "step_over_turn_overhead_ratio": round(
            reports["step"]["graph_overhead_ms_p50"] / reports["turn"]["graph_overhead_ms_p50"], 3
        ),
        "by_durability": reports,
        **(
            {
                "otel_endpoint": otel_endpoint,
                "otel_minus_off_overhead_ms_p50": round(
                    reports["turn+otel"]["graph_overhead_ms_p50"]
                    - reports["turn"]["graph_overhead_ms_p50"],
                    2,
                ),
            }
            if otel_endpoint
            else {}
        ),
        "web": "skipped (no key): web time is excluded by construction",
    }
    if out:
        out.write_text(json.dumps(report, indent=2))
    return report
