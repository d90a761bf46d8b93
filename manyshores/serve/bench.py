"""`manyshores bench serve`: concurrent conversations against a running server (or a balancer in
front of replicas), then a check of every thread.

Each conversation is a thread of `turns` streamed requests sent through the real `openai`
client, one after another; `conversations` of them run at once. Every message carries a tag
naming its conversation and turn, so that afterwards each thread's stored messages can be
checked to be exactly its own turns, in order, each once: none lost, none from another thread,
none twice. Every request carries a request id; with `retries`, a failed request (a replica
killed under it) is sent again with the same id, which the server answers from the stored turn
when the first try got that far.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.serve.config import REPLICA_HEADER, THREAD_HEADER, base_url

TOPICS = [
    "I'm from Kenya. What do families usually eat for breakfast?",
    "How important is family in your life? Options: Very important, Rather important, "
    "Not very important, Not at all important",
    "What gift should I bring to a dinner with friends?",
    "And what should I avoid saying at the table?",
    "What do people usually do on a public holiday?",
]
CLOSING = "And what else should I know?"
"""The extra turn every conversation gets once the run is over (`close_conversations`)."""
MAX_RATE_LIMIT_RETRIES = 50


class StreamCut(Exception):
    """A stream ended without its closing chunk."""


def _tag(run: str, conversation: int, turn: int) -> str:
    return f"[{run} c{conversation} t{turn}]"


def failure_kind(exc: BaseException) -> str:
    """How a request failed, by HTTP status where there is one: `502`, `503`, ...;
    `stream_error` (an error event in a stream that had begun), `stream_cut` (the connection
    closed mid-stream), `connection_failed`, `timeout`."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return str(exc.status_code)
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_failed"
    if isinstance(exc, openai.APIError):
        return "stream_error"
    # The HTTP library's own errors (its module differs between openai versions).
    if isinstance(exc, StreamCut) or type(exc).__name__ in ("RemoteProtocolError", "ReadError"):
        return "stream_cut"
    return type(exc).__name__


@dataclass
class TurnRecord:
    """What the client saw of one request (all its tries)."""

    conversation: int
    turn: int
    text: str
    """The message sent."""
    request_id: str = ""
    """Sent with every try: the server stores the turn once."""
    answered: bool = False
    """A complete stream with a closing chunk arrived."""
    latency_s: float | None = None
    """Start of the answered try to the end of its stream."""
    ttft_s: float | None = None
    """Start of the answered try to its first chunk with content."""
    error: str | None = None
    """Kind of the last failure when no try was answered (see `failure_kind`)."""
    failures: list[tuple[str, str]] = field(default_factory=list)
    """Every failed try: (kind, the error's message as the client got it)."""
    replicas: list[str] = field(default_factory=list)
    """The replica that answered each try that got a response."""
    replayed: bool = False
    """The answer was the stored turn of an earlier try."""


@dataclass
class _Run:
    url: str
    api_key: str | None
    retries: int = 0
    """Times a failed request is sent again (same request id) before it counts as failed."""
    retry_wait_s: float = 1.0
    on_answer: Callable[[int], None] | None = None
    """Called with the number of requests answered so far, after each answer."""
    unstreamed_odd_turns: bool = False
    """Send odd turns without streaming (both response paths under the same load)."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    records: list[TurnRecord] = field(default_factory=list)
    retried: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.url = base_url(self.url)

    def client(self) -> Any:
        from openai import OpenAI

        # No automatic retries: they would resend without our accounting; failures are
        # retried here, with the same request id.
        return OpenAI(
            base_url=self.url + "/v1",
            api_key=self.api_key or "none",
            max_retries=0,
            timeout=3600,
        )

    def thread_id(self, conversation: int) -> str:
        return f"bench-{self.run_id}-{conversation}"

    def conversation(self, conversation: int, turns: int, first: int = 0) -> None:
        client = self.client()
        for turn in range(first, first + turns):
            topic = TOPICS[turn % len(TOPICS)]
            self.ask(client, conversation, turn, f"{_tag(self.run_id, conversation, turn)} {topic}")

    def ask(self, client: Any, conversation: int, turn: int, text: str) -> TurnRecord:
        import openai

        record = TurnRecord(conversation, turn, text, request_id=uuid.uuid4().hex)
        tries = 0
        for _ in range(MAX_RATE_LIMIT_RETRIES):
            try:
                self._one(client, record, conversation)
                break
            except openai.RateLimitError as exc:
                with self.lock:
                    self.retried["429"] += 1
                retry = exc.response.headers.get("retry-after", "1")
                time.sleep(min(float(retry), 30.0))
            except Exception as exc:  # a status, a cut stream, a refused connection
                record.error = failure_kind(exc)
                record.failures.append((record.error, str(exc)))
                tries += 1
                if tries > self.retries:
                    break
                time.sleep(self.retry_wait_s)
        if record.answered:
            record.error = None
        with self.lock:
            self.records.append(record)
            answered = sum(r.answered for r in self.records)
        if record.answered and self.on_answer is not None:
            self.on_answer(answered)
        return record

    def _one(self, client: Any, record: TurnRecord, conversation: int) -> None:
        thread_id = self.thread_id(conversation)
        stream = not (self.unstreamed_odd_turns and record.turn % 2)
        record.ttft_s = None  # of this try
        start = time.perf_counter()
        raw = client.chat.completions.with_raw_response.create(
            model="manyshores",
            messages=[{"role": "user", "content": record.text}],
            stream=stream,
            metadata={"thread_id": thread_id, "request_id": record.request_id},
            extra_headers={THREAD_HEADER: thread_id},
        )
        record.replicas.append(raw.headers.get(REPLICA_HEADER, "?"))
        closing: dict[str, Any] | None = None
        if not stream:
            closing = (raw.parse().model_extra or {}).get("manyshores")
            record.ttft_s = time.perf_counter() - start
        else:
            import openai

            try:
                for chunk in raw.parse():
                    if record.ttft_s is None and chunk.choices and chunk.choices[0].delta.content:
                        record.ttft_s = time.perf_counter() - start
                    extra = getattr(chunk, "model_extra", None) or {}
                    closing = extra.get("manyshores", closing)
            except openai.APIConnectionError as exc:  # after a 200: the stream broke off
                raise StreamCut(f"the stream was cut: {exc.__cause__ or exc}") from exc
        if closing is None or closing.get("thread_id") != thread_id:
            raise StreamCut("the response ended without its closing chunk")
        record.latency_s = time.perf_counter() - start
        record.replayed = bool(closing.get("replayed"))
        record.answered = True

    def stored(self, conversation: int) -> dict[str, Any] | None:
        request = urllib.request.Request(
            f"{self.url}/v1/threads/{self.thread_id(conversation)}",
            headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise


def close_conversations(run: _Run, conversations: int, turns: int) -> None:
    """Call every conversation once more (a turn cut off earlier is completed first), so that
    afterwards no thread may hold a question without its answer."""
    client = run.client()
    for c in range(conversations):
        run.ask(client, c, turns, f"{_tag(run.run_id, c, turns)} {CLOSING}")


def check_threads(run: _Run, conversations: int) -> dict[str, int]:
    """Compare each thread's stored messages with the turns its conversation sent.

    lost: an answered turn whose message or answer is not stored; mixed: a stored message of
    another conversation, or out of order; duplicated: a message stored more than once;
    half_written: a stored message without its answer while nothing is running (an unanswered
    turn must be completed or absent).
    """
    lost = mixed = half = duplicated = 0
    for c in range(conversations):
        sent = sorted((r for r in run.records if r.conversation == c), key=lambda r: r.turn)
        stored = run.stored(c)
        messages = stored["messages"] if stored else []
        users = [m["content"] for m in messages if m["role"] == "user"]
        mine = f"[{run.run_id} c{c} "
        mixed += sum(1 for u in users if not u.startswith(mine))
        own = [u for u in users if u.startswith(mine)]
        duplicated += len(own) - len(set(own))
        unique = list(dict.fromkeys(own))
        if unique != [r.text for r in sent if r.text in unique]:
            mixed += 1
        # Each answered turn: its message stored, and followed by an answer.
        for r in sent:
            if not r.answered:
                continue
            at = next((i for i, m in enumerate(messages) if m["content"] == r.text), None)
            if at is None or at + 1 >= len(messages) or messages[at + 1]["role"] != "assistant":
                lost += 1
        if not (stored or {}).get("pending"):
            half += sum(
                1
                for i, m in enumerate(messages)
                if m["role"] == "user"
                and (i + 1 >= len(messages) or messages[i + 1]["role"] != "assistant")
            )
    return {
        "lost_turns": lost,
        "mixed_turns": mixed,
        "half_written_turns": half,
        "duplicated_turns": duplicated,
    }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)


def drive(run: _Run, conversations: int, turns: int) -> dict[str, Any]:
    """Run the conversations at once; the client-side figures (threads are checked apart)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        for future in [pool.submit(run.conversation, c, turns) for c in range(conversations)]:
            future.result()
    wall = time.perf_counter() - started
    return summarize(run, wall, conversations, turns)


def summarize(run: _Run, wall: float, conversations: int, turns: int) -> dict[str, Any]:
    records = [r for r in run.records if r.turn < turns]
    ok = [r for r in records if r.answered]
    latencies = [r.latency_s for r in ok if r.latency_s is not None]
    ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
    errors = Counter(kind for r in records for kind, _ in r.failures)
    errors.update(run.retried)
    return {
        "conversations": conversations,
        "turns": turns,
        "requests": len(records),
        "answered": len(ok),
        "failed": len(records) - len(ok),
        "retried_answered": sum(1 for r in ok if r.failures),
        "replayed": sum(1 for r in ok if r.replayed),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 4) if wall else 0.0,
        "latency_s": {
            "p50": _pct(latencies, 0.5),
            "p95": _pct(latencies, 0.95),
            "p99": _pct(latencies, 0.99),
        },
        "ttft_s": {"p50": _pct(ttfts, 0.5), "p95": _pct(ttfts, 0.95)},
        "errors": dict(sorted(errors.items())),
        "answered_by": dict(sorted(Counter(r.replicas[-1] for r in ok if r.replicas).items())),
    }


def _drive(url: str, conversations: int, turns: int, api_key: str | None) -> dict[str, Any]:
    run = _Run(url, api_key)
    report = drive(run, conversations, turns)
    return {**report, **check_threads(run, conversations)}


def health(url: str, api_key: str | None = None) -> dict[str, Any]:
    """The server's `/healthz`, or InvalidInputError in one line saying what is at `url`."""
    root = base_url(url)
    try:
        with urllib.request.urlopen(root + "/healthz", timeout=30) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            raise InvalidInputError(
                f"the server at {root} is shutting down (503 on /healthz)"
            ) from None
        raise InvalidInputError(
            f"{url} answered {exc.code} on /healthz: not a manyshores server? give the URL "
            "`manyshores serve` prints (http://HOST:PORT/v1)"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InvalidInputError(f"cannot reach a manyshores server at {url}: {reason}") from None
    except ValueError:
        raise InvalidInputError(
            f"{url} answered /healthz with something that is not JSON: not a manyshores server?"
        ) from None
    if not isinstance(data, dict) or "backend" not in data:
        raise InvalidInputError(
            f"{url} is not a manyshores server (its /healthz says {data!r:.80})"
        )
    return dict(data)


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
    url = base_url(url)
    found = health(url)
    if backend and found.get("backend") != backend:
        raise InvalidInputError(
            f"the server at {url} stores threads in {found.get('backend')}, not {backend}: "
            "start it with MANYSHORES_CHECKPOINT_URL set to the PostgreSQL URL"
        )
    one = _drive(url, 1, turns, api_key) if sequential else None
    report = _drive(url, conversations, turns, api_key)
    report["backend"] = backend or found.get("backend", "sqlite")
    if one is not None:
        report["one_at_a_time"] = one
        report["throughput_ratio_vs_one_at_a_time"] = (
            round(report["requests_per_s"] / one["requests_per_s"], 3)
            if one["requests_per_s"]
            else None
        )
    return report
