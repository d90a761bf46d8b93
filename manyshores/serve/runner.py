"""Model workers behind a bounded queue: how concurrent requests share one base model.

With the in-process engine every turn runs on a single worker thread, one after another. The
base model, its KV caches and the experts' adapters are then only ever touched by one turn at a
time (the graph's own expert fan-out still batches a committee inside a turn). With a serving
engine (vLLM) the model work happens in the engine, which batches it across requests, so turns
of different conversations run on `workers` threads at once; turns of one conversation still
never interleave (a lock per thread id). Requests beyond `max_queue` turns running or waiting
are refused at once (429) instead of piling up.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from manyshores.graph.assistant import CultureAssistant, TurnResult


class QueueFullError(Exception):
    """Too many turns running or waiting; retry after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class TurnTimeoutError(Exception):
    """The turn did not finish within the request's timeout."""


@dataclass(frozen=True)
class TurnRequest:
    """One turn to run."""

    text: str
    """The user's new message."""
    thread_id: str
    """The conversation it continues (or starts)."""
    user_id: str | None = None
    """Long-term profile user id."""
    culture: str | None = None
    """Culture forced for this turn; None: detected."""


@dataclass(frozen=True)
class Token:
    """A piece of the answer as a lone generating expert produces it."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The turn is over and stored."""

    result: TurnResult
    """The thread's state after the turn."""
    prompt_tokens: int
    """Tokens of the user's message."""
    completion_tokens: int
    """Tokens of the answer."""


class TurnRunner:
    """Runs turns of one `CultureAssistant` on one worker thread, at most `max_queue` at once."""

    def __init__(self, assistant: CultureAssistant, max_queue: int, workers: int = 1) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.assistant = assistant
        self.max_queue = max_queue
        self.workers = workers
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="manyshores-model"
        )
        self._lock = threading.Lock()
        self._threads: dict[str, tuple[threading.Lock, int]] = {}
        self._pending = 0
        self._seconds: deque[float] = deque(maxlen=32)

    @property
    def pending(self) -> int:
        """Turns running or waiting now."""
        return self._pending

    def _reserve(self) -> None:
        with self._lock:
            if self._pending >= self.max_queue:
                raise QueueFullError(self._retry_after())
            self._pending += 1

    def _release(self, seconds: float | None) -> None:
        with self._lock:
            self._pending -= 1
            if seconds is not None:
                self._seconds.append(seconds)

    def _retry_after(self) -> int:
        # The backlog drains at one turn per typical turn time.
        typical = statistics.median(self._seconds) if self._seconds else 5.0
        return max(1, math.ceil(typical * self._pending))

    @contextlib.contextmanager
    def _thread(self, thread_id: str | None) -> Iterator[None]:
        """Hold `thread_id`'s lock (nothing to hold with one worker, or without an id)."""
        if self.workers == 1 or thread_id is None:
            yield
            return
        with self._lock:
            lock, users = self._threads.get(thread_id, (threading.Lock(), 0))
            self._threads[thread_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._threads[thread_id]
                if users == 1:
                    del self._threads[thread_id]
                else:
                    self._threads[thread_id] = (lock, users - 1)

    def call(self, fn: Any, *args: Any, thread_id: str | None = None) -> asyncio.Future[Any]:
        """Run `fn(*args)` on a model worker, after the turns already queued (reads of a
        thread's state go here too, with its `thread_id`, so they never see a turn half-way)."""

        def run() -> Any:
            with self._thread(thread_id):
                return fn(*args)

        return asyncio.get_running_loop().run_in_executor(self._executor, run)

    def start(self, request: TurnRequest, timeout_s: float) -> AsyncIterator[Token | Finished]:
        """Queue the turn now and return its events: `Token`s as they come, then `Finished`.

        Raises QueueFullError at once (before any work) when the queue is full; iterating
        raises TurnTimeoutError when the turn has not finished within `timeout_s`, and any
        error of the turn itself.
        """
        self._reserve()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        deadline = time.monotonic() + timeout_s
        abandoned = threading.Event()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            with self._thread(request.thread_id):
                _work()

        def _work() -> None:
            started = None
            try:
                if abandoned.is_set() or time.monotonic() > deadline:
                    # Timed out while waiting: never started, so cleanly absent from the thread.
                    put(TurnTimeoutError("timed out waiting for the model"))
                    return
                started = time.perf_counter()
                steps: list[str] = []
                for event in self.assistant.stream(
                    request.text,
                    thread_id=request.thread_id,
                    culture=request.culture,
                    user_id=request.user_id,
                ):
                    if event.node == "token":
                        put(Token(str(event.update.get("text", ""))))
                    elif event.is_step:
                        steps.append(event.node)
                result = self.assistant.result(request.thread_id, steps)
                # Counted here: a fast tokenizer must not be used from two threads at once.
                put(Finished(result, self._count(request.text), self._count(result.answer)))
            except BaseException as exc:  # handed to the request, which raises it
                put(exc)
            finally:
                self._release(None if started is None else time.perf_counter() - started)

        try:
            loop.run_in_executor(self._executor, work)
        except RuntimeError:  # executor shut down
            self._release(None)
            raise

        async def events() -> AsyncIterator[Token | Finished]:
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    try:
                        item = await asyncio.wait_for(queue.get(), max(remaining, 0.0))
                    except asyncio.TimeoutError:
                        raise TurnTimeoutError(
                            f"the turn did not finish within {timeout_s:g} s"
                        ) from None
                    if isinstance(item, BaseException):
                        raise item
                    yield item
                    if isinstance(item, Finished):
                        return
            finally:
                abandoned.set()

        return events()

    def _count(self, text: str) -> int:
        """Tokens of `text` for `usage` (the base model's tokenizer once it is loaded)."""
        from manyshores.runtime.text import TOKENIZER_LOCK

        base = self.assistant.components.base
        if base is None:
            return len(text.split())
        with TOKENIZER_LOCK:
            return len(base.tokenizer(text, add_special_tokens=False)["input_ids"])

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
