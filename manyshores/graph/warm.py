"""Loading the heavy collaborators in the background, before the first turn needs them.

A first turn otherwise loads them one node at a time (detector in `detect`, the embedder and the
knowledge base in `retrieve`, the base model in `route`), each waiting for the one before.
`chat` starts this while the person types; `ask` while it parses the message and builds the
graph. Each collaborator is built once either way: `Components` builds each under its own lock,
so a node that needs one still loading waits for it instead of loading it a second time.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manyshores.components import Components


def warm_up(components: Components, message: str | None = None) -> threading.Thread:
    """Start loading the collaborators a turn uses, in a daemon thread, in the order a turn
    needs them. One thread, not one per collaborator: on a busy 2-core machine loads in parallel
    only slow down the one the turn is waiting for. Each collaborator has its own lock, so a node
    that needs one this thread has not reached yet builds it itself. Returns the thread.

    Without `message` (`chat`: the person is still typing) everything is loaded: the detector,
    the text runtime, the knowledge base and embedder, the evidence, the base model, the
    experts and the survey memory. With the message already known (`ask`) only what its turn
    can use is: the base model, the experts and the survey memory (torch, transformers: seconds
    of imports and loading, on the CPU the first token needs) only for a question with options,
    which is scored on them; the evidence only when the message names a culture (the detector
    says so: it is loaded first anyway). A
    turn that needs more after all (an open question routed to a trained adapter) builds it in
    its node.
    """

    def run() -> None:
        # Failures are left for the turn itself to raise with its own clear message.
        try:
            steps = _plan(message)  # in this thread: the task rules import the graph's state
        except Exception:
            steps = _plan(None)
        try:
            for step in steps:
                if _stopping.is_set():
                    return
                with contextlib.suppress(Exception):
                    step(components, message)
        finally:
            with _lock:
                _running.discard(threading.current_thread())

    thread = threading.Thread(target=run, name="manyshores-warm-up", daemon=True)
    global _exit_hook
    with _lock:
        if not _exit_hook:
            atexit.register(_finish_at_exit)
            _exit_hook = True
        _running.add(thread)
    thread.start()
    return thread


_lock = threading.Lock()
_running: set[threading.Thread] = set()
_stopping = threading.Event()
_exit_hook = False


def _finish_at_exit() -> None:
    """Let a warm-up still running finish its current step, and skip the rest. A daemon thread
    killed inside native code (onnxruntime, torch) at interpreter exit aborts the process
    ("terminate called without an active exception"): a `chat` quit early would end that way."""
    _stopping.set()
    with _lock:
        threads = list(_running)
    for thread in threads:
        thread.join(timeout=120)


Step = Callable[["Components", "str | None"], None]


def _plan(message: str | None) -> list[Step]:
    """The warm-up's steps for a turn on `message` (None: any turn)."""
    if message is None:
        return [_detector, _text, _retriever, _evidence, _base, _experts, _survey_memory]
    from manyshores.detection.task import detect_task

    if detect_task(message)["options"]:
        # Scored on the transformers model: no generated text, no evidence for options.
        return [_detector, _retriever, _base, _experts, _survey_memory]
    # The embedder (native code, most of it outside the GIL) loads while the turn imports
    # Chroma in the retrieve node; the text runtime next, before the knowledge base.
    return [_detector, _embedder, _text, _retriever, _evidence_if_named]


def _embedder(components: Components, message: str | None = None) -> None:
    from manyshores.memory.embeddings import embed

    embed(["warm-up"])  # loads the embedder and runs its first (slowest) forward


def _evidence_if_named(components: Components, message: str | None) -> None:
    from manyshores.nodes.retrieve import evidence_cultures

    detector: Any = components.get_detector()
    if message is None or evidence_cultures(detector.detect(message)):
        components.get_evidence()


def _text(components: Components, message: str | None = None) -> None:
    experts: Any = components.get_experts()
    if hasattr(experts, "_part"):
        runtime = experts._part("text")
        if hasattr(runtime, "prime"):
            from manyshores.components.expert_backend import GENERAL_SYSTEM_PROMPT

            # The general answer's instructions, run while the turn is still detecting and
            # retrieving: its first token then waits only for the question's own tokens.
            runtime.prime([{"role": "system", "content": GENERAL_SYSTEM_PROMPT}])


def _evidence(components: Components, message: str | None = None) -> None:
    components.get_evidence()


def _base(components: Components, message: str | None = None) -> None:
    components.get_base()


def _detector(components: Components, message: str | None = None) -> None:
    detector: Any = components.get_detector()
    if hasattr(detector, "load"):
        detector.load()


def _retriever(components: Components, message: str | None = None) -> None:
    retriever: Any = components.get_retriever()
    if hasattr(retriever, "_get_kb"):
        retriever._get_kb()
    from manyshores.memory.embeddings import embed

    embed(["warm-up"])  # loads the embedder and runs its first (slowest) forward


def _survey_memory(components: Components, message: str | None = None) -> None:
    experts: Any = components.get_experts()
    if hasattr(experts, "_part"):
        # The survey questions' vectors: the shipped ones read from the package, a user's
        # trained surveys' embedded once and then read from the cache.
        experts._part("memory")._embed_all()


def _experts(components: Components, message: str | None = None) -> None:
    experts: Any = components.get_experts()
    if hasattr(experts, "_part"):
        experts._part("registry")
        experts._part("committee")
