"""`manyshores bench serve`: concurrent conversations against a running server, then a check of
every thread.

Each conversation is a thread of `turns` streamed requests sent through the real `openai`
client, one after another; `conversations` of them run at once. Every message carries a tag
naming its conversation and turn, so that afterwards each thread's stored messages can be
checked to be exactly its own turns, in order: none lost, none from another thread.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.serve.config import THREAD_HEADER

TOPICS = [
    "I'm from Kenya. What do families usually eat for breakfast?",
    "How important is family in your life? Options: Very important, Rather important, "
    "Not very important, Not at all important",
    "What gift should I bring to a dinner with friends?",
    "And what should I avoid saying at the table?",
    "What do people usually do on a public holiday?",
]
MAX_RATE_LIMIT_RETRIES = 50


def _tag(run: str, conversation: int, turn: int) -> str:
    return f"[{run} c{conversation} t{turn}]"


@dataclass
class TurnRecord:
    """What the client saw of one request."""

    conversation: int
    turn: int
    text: str
    """The message sent."""
    answered: bool = False
    """A complete stream with a closing chunk arrived."""
    latency_s: float | None = None
    """Request start to the end of the stream."""
    ttft_s: float | None = None
    """Request start to the first chunk with content."""
    error: str | None = None
    """Kind of failure (the openai exception class, or `missing_final_chunk`)."""


@dataclass
class _Run:
    url: str
    api_key: str | None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    records: list[TurnRecord] = field(default_factory=list)
    retried: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> Any:
        from openai import OpenAI

        # No automatic retries: a retried turn whose first attempt reached the graph would be
        # asked twice; 429s are retried here, after the server's Retry-After.
        return OpenAI(
            base_url=self.url.rstrip("/") + "/v1",
            api_key=self.api_key or "none",
            max_retries=0,
            timeout=3600,
        )

    def thread_id(self, conversation: int) -> str:
        return f"bench-{self.run_id}-{conversation}"

    def conversation(self, conversation: int, turns: int) -> None:
        import openai

        client = self.client()
        for turn in range(turns):
            text = f"{_tag(self.run_id, conversation, turn)} {TOPICS[turn % len(TOPICS)]}"
            record = TurnRecord(conversation, turn, text)
            for _ in range(MAX_RATE_LIMIT_RETRIES):
                try:
                    self._one(client, record, conversation)
                    break
                except openai.RateLimitError as exc:
                    with self.lock:
                        self.retried["rate_limited"] += 1
                    retry = exc.response.headers.get("retry-after", "1")
                    time.sleep(min(float(retry), 30.0))
                except openai.APIError as exc:
                    # A plain APIError is an error event inside a stream that had begun
                    # (the status line was already 200).
                    kind = type(exc).__name__
                    record.error = "stream_error" if kind == "APIError" else kind
                    break
                except Exception as exc:  # connection reset and the like, seen by httpx
                    record.error = type(exc).__name__
                    break
            with self.lock:
                self.records.append(record)

    def _one(self, client: Any, record: TurnRecord, conversation: int) -> None:
        thread_id = self.thread_id(conversation)
        start = time.perf_counter()
        stream = client.chat.completions.create(
            model="manyshores",
            messages=[{"role": "user", "content": record.text}],
            stream=True,
            metadata={"thread_id": thread_id},
            extra_headers={THREAD_HEADER: thread_id},
        )
        final = False
        for chunk in stream:
            if record.ttft_s is None and chunk.choices and chunk.choices[0].delta.content:
                record.ttft_s = time.perf_counter() - start
            extra = getattr(chunk, "model_extra", None) or {}
            if "manyshores" in extra:
                final = extra["manyshores"].get("thread_id") == thread_id
        record.latency_s = time.perf_counter() - start
        record.answered = final
        if not final:
            record.error = "missing_final_chunk"

    def stored(self, conversation: int) -> dict[str, Any] | None:
        request = urllib.request.Request(
            f"{self.url.rstrip('/')}/v1/threads/{self.thread_id(conversation)}",
            headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise


def check_threads(run: _Run, conversations: int) -> dict[str, int]:
    """Compare each thread's stored messages with the turns its conversation sent.

    lost: an answered turn whose message or answer is not stored; mixed: a stored message of
    another conversation, or out of order; half_written: a stored message without its answer
    while nothing is running (an unanswered turn must be completed or absent).
    """
    lost = mixed = half = 0
    for c in range(conversations):
        sent = sorted((r for r in run.records if r.conversation == c), key=lambda r: r.turn)
        stored = run.stored(c)
        messages = stored["messages"] if stored else []
        users = [m["content"] for m in messages if m["role"] == "user"]
        answers = [m for m in messages if m["role"] == "assistant"]
        mine = f"[{run.run_id} c{c} "
        mixed += sum(1 for u in users if not u.startswith(mine))
        own = [u for u in users if u.startswith(mine)]
        order = [r.text for r in sent if r.text in own]
        if own != order:
            mixed += 1
        lost += sum(1 for r in sent if r.answered and r.text not in own)
        # Messages alternate user/assistant; a trailing user message is an unfinished turn.
        if len(answers) < len(users) and not (stored or {}).get("pending"):
            half += len(users) - len(answers)
        lost += max(0, sum(1 for r in sent if r.answered) - len(answers))
    return {"lost_turns": lost, "mixed_turns": mixed, "half_written_turns": half}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)


def _drive(url: str, conversations: int, turns: int, api_key: str | None) -> dict[str, Any]:
    run = _Run(url, api_key)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        for future in [pool.submit(run.conversation, c, turns) for c in range(conversations)]:
            future.result()
    wall = time.perf_counter() - started
    ok = [r for r in run.records if r.answered]
    latencies = [r.latency_s for r in ok if r.latency_s is not None]
    ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
    errors = Counter(r.error for r in run.records if r.error)
    errors.update(run.retried)
    return {
        "conversations": conversations,
        "turns": turns,
        "requests": len(run.records),
        "answered": len(ok),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 4) if wall else 0.0,
        "latency_s": {
            "p50": _pct(latencies, 0.5),
            "p95": _pct(latencies, 0.95),
            "p99": _pct(latencies, 0.99),
        },
        "ttft_s": {"p50": _pct(ttfts, 0.5), "p95": _pct(ttfts, 0.95)},
        "errors": dict(errors),
        **check_threads(run, conversations),
    }


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=30) as response:
        return dict(json.loads(response.read()))


def run_serve_bench(
    url: str,
    conversations: int = 32,
    turns: int = 5,
    backend: str | None = None,
    sequential: bool = True,
    api_key: str | None = None,
) -> dict[str, Any]:
    """The report: the concurrent run's figures at the top level and, with `sequential`, the
    same server measured one conversation at a time just before, and the throughput ratio."""
    if conversations < 1 or turns < 1:
        raise ValueError("conversations and turns must be at least 1")
    health = _health(url)
    if backend and health.get("backend") != backend:
        raise InvalidInputError(
            f"the server at {url} stores threads in {health.get('backend')}, not {backend}: "
            "start it with MANYSHORES_CHECKPOINT_URL set to the PostgreSQL URL"
        )
    one = _drive(url, 1, turns, api_key) if sequential else None
    report = _drive(url, conversations, turns, api_key)
    report["backend"] = backend or health.get("backend", "sqlite")
    if one is not None:
        report["one_at_a_time"] = one
        report["throughput_ratio_vs_one_at_a_time"] = (
            round(report["requests_per_s"] / one["requests_per_s"], 3)
            if one["requests_per_s"]
            else None
        )
    return report
