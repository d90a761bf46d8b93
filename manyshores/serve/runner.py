"""Model workers behind a bounded queue: how concurrent requests share one base model.

With the in-process engine every turn runs on a single worker thread, one after another. The
base model, its KV caches and the experts' adapters are then only ever touched by one turn at a
time (the graph's own expert fan-out still batches a committee inside a turn). With a serving
engine (vLLM) the model work happens in the engine, which batches it across requests, so turns
of different conversations run on `workers` threads at once. Turns of one conversation never
interleave: each turn, and each read of a thread, holds the thread's lock (`serve.locks`: in
this process, and on PostgreSQL an advisory lock that replicas share). Requests beyond
`max_queue` turns running or waiting are refused at once (429) instead of piling up.

A turn that carries a request id stores its message under an id made from it; when a retry of
that request arrives, the stored turn is answered again instead of running twice
(`serve.stored`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from manyshores.graph.assistant import CultureAssistant, TurnResult
from manyshores.serve.locks import LockWaitTimeout, ThreadLocks
from manyshores.serve.stored import find_turn

log = logging.getLogger("manyshores.serve")


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
    """The conversation it continues (or starts), as stored (within its tenant)."""
    user_id: str | None = None
    """Long-term profile user id, as stored."""
    culture: str | None = None
    """Culture forced for this turn; None: detected."""
    message_id: str | None = None
    """Id the user message is stored under, made from the request id: a retry of the request
    finds its turn by it. None: a fresh id (no request id was sent)."""


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
    replayed: bool = False
    """The request had been answered before (a retry): this is the stored turn, not run again."""


class TurnRunner:
    """Runs turns of one `CultureAssistant` on one worker thread, at most `max_queue` at once."""

    def __init__(
        self,
        assistant: CultureAssistant,
        max_queue: int,
        workers: int = 1,
        locks: ThreadLocks | None = None,
    ) -> None:
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
        self.locks = locks or ThreadLocks()
        """Each thread's lock: in this process, and across replicas on PostgreSQL."""
        self._lock = threading.Lock()
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

    def call(
        self, fn: Any, *args: Any, thread_id: str | None = None, timeout_s: float = 300.0
    ) -> asyncio.Future[Any]:
        """Run `fn(*args)` on a model worker, after the turns already queued; with a
        `thread_id`, under that thread's lock (shared), so a read never sees a turn half-way,
        here or on another replica."""

        def run() -> Any:
            if thread_id is None:
                return fn(*args)
            try:
                with self.locks.hold(thread_id, time.monotonic() + timeout_s, read=True):
                    return fn(*args)
            except LockWaitTimeout:
                raise TurnTimeoutError(
                    f"the conversation stayed busy for {timeout_s:g} s"
                ) from None

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
            held = False
            try:
                with self.locks.hold(request.thread_id, deadline):
                    held = True
                    _work()  # answers the request and releases its queue place itself
            except LockWaitTimeout:
                # Another turn of this conversation ran past the deadline: this one never
                # started, so it is cleanly absent from the thread.
                put(TurnTimeoutError("timed out waiting for the conversation's previous turn"))
                self._release(None)
            except BaseException as exc:
                if held:  # letting go of the lock failed: closing its session released it
                    log.warning("releasing the lock of a thread failed: %s", exc)
                    return
                put(exc)  # the lock's database is unreachable: nothing ran
                self._release(None)

        def _work() -> None:
            started = None
            try:
                if abandoned.is_set() or time.monotonic() > deadline:
                    # Timed out while waiting: never started, so cleanly absent from the thread.
                    put(TurnTimeoutError("timed out waiting for the model"))
                    return
                started = time.perf_counter()
                if request.message_id is not None:
                    stored = find_turn(
                        self.assistant, request.thread_id, request.message_id, request.text
                    )
                    if stored is not None:
                        put(
                            Finished(
                                stored,
                                self._count(request.text),
                                self._count(stored.answer),
                                replayed=True,
                            )
                        )
                        return
                steps: list[str] = []
                for event in self.assistant.stream(
                    request.text,
                    thread_id=request.thread_id,
                    culture=request.culture,
                    user_id=request.user_id,
                    message_id=request.message_id,
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
