"""Latency of culture + task detection per message, after everything is loaded."""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path
from typing import Any

from manyshores.detection.detector import CultureDetector
from manyshores.eval.jsonl import read_jsonl
from manyshores.eval.metrics.stats import percentile

BUDGET_MS = 10.0
"""Target p50 per message."""


def run_detect_bench(
    data: Path, *, n: int = 500, cultures: list[str] | None = None
) -> dict[str, Any]:
    """Time `detect` + `detect_task` on the last user message of up to `n` cases.

    Each message is timed cold (the per-text analysis cache is cleared first), so the figure
    is what a new message costs; whole conversations are timed separately (earlier turns come
    from the cache, as in a live thread).
    """
    cases = read_jsonl(data)[: max(n, 1)]
    start = time.perf_counter()
    detector = CultureDetector.from_settings().load()
    load_s = time.perf_counter() - start
    # Warm-up: first calls touch lazily built tables.
    detector.detect([{"role": "user", "content": "What do people eat in Kenya?"}])

    per_message: list[float] = []
    per_conversation: list[float] = []
    for case in cases:
        messages = case.get("messages") or []
        last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        if last is None:
            continue
        detector.clear_cache()
        t0 = time.perf_counter()
        detector.detect([last], candidates=cultures)
        detector.detect_task(str(last.get("content", "")))
        per_message.append((time.perf_counter() - t0) * 1000)
        if len(messages) > 1:
            t0 = time.perf_counter()
            detector.detect(messages, candidates=cultures)
            per_conversation.append((time.perf_counter() - t0) * 1000)
    msg = sorted(per_message)
    conv = sorted(per_conversation)
    return {
        "benchmark": "detect",
        "data": str(data),
        "messages": len(msg),
        "candidates": len(detector.candidate_ids(cultures)),
        "load_seconds": round(load_s, 3),
        "per_message_ms": {
            "p50": round(percentile(msg, 0.5), 3),
            "p90": round(percentile(msg, 0.9), 3),
            "p99": round(percentile(msg, 0.99), 3),
            "mean": round(statistics.fmean(msg), 3),
        }
        if msg
        else None,
        "per_conversation_ms": {
            "p50": round(percentile(conv, 0.5), 3),
            "p90": round(percentile(conv, 0.9), 3),
        }
        if conv
        else None,
        "budget_p50_ms": BUDGET_MS,
        "within_budget": bool(msg) and round(percentile(msg, 0.5), 3) <= BUDGET_MS,
        "embeddings": detector.settings.detect_embeddings,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
