"""Loading the heavy collaborators in the background, before the first turn needs them.

A first turn otherwise loads them one node at a time (detector in `detect`, the embedder and the
knowledge base in `retrieve`, the base model in `route`), each waiting for the one before.
`chat` starts this while the person types; `ask` while it parses the message and builds the
graph. Each collaborator is built once either way: `Components` builds each under its own lock,
so a node that needs one still loading waits for it instead of loading it a second time.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manyshores.components import Components


def warm_up(components: Components) -> threading.Thread:
    """Start loading every collaborator a turn uses, in a daemon thread, in the order a turn
    needs them: the detector, the text runtime (llama.cpp loads in about a second), the
    knowledge base and embedder, the evidence, then the base model and the experts. One thread,
    not one per collaborator: on a busy 2-core machine loads in parallel only slow down the one
    the turn is waiting for. Each collaborator has its own lock, so a node that needs one this
    thread has not reached yet builds it itself, without waiting for the others. Returns the
    thread."""

    def run() -> None:
        # Failures are left for the turn itself to raise with its own clear message.
        for step in (_detector, _text, _retriever, _evidence, _base, _experts):
            with contextlib.suppress(Exception):
                step(components)

    thread = threading.Thread(target=run, name="manyshores-warm-up", daemon=True)
    thread.start()
    return thread


def _text(components: Components) -> None:
    experts: Any = components.get_experts()
    if hasattr(experts, "_part"):
        experts._part("text")


def _evidence(components: Components) -> None:
    components.get_evidence()


def _base(components: Components) -> None:
    components.get_base()


def _detector(components: Components) -> None:
    detector: Any = components.get_detector()
    if hasattr(detector, "load"):
        detector.load()


def _retriever(components: Components) -> None:
    retriever: Any = components.get_retriever()
    if hasattr(retriever, "_get_kb"):
        retriever._get_kb()
    from manyshores.memory.embeddings import embed

    embed(["warm-up"])  # loads the embedder and runs its first (slowest) forward


def _experts(components: Components) -> None:
    experts: Any = components.get_experts()
    if hasattr(experts, "_part"):
        experts._part("registry")
        experts._part("committee")
