"""One CPU thread policy for every pool in the process, chosen for the machine and its load.

Measured on a 2-core machine whose other jobs kept the 1-minute load at ~7 (`docs/speed.md`): with
two torch threads, decoding ran at 1.4 tokens/s against 4.4 with one thread, embedding a query
took 1.48 s against 0.07 s, a 300-token prefill 15.6 s against 3.6 s. Threads that spin-wait for
a core another process holds stall each other, so a loaded machine gets one thread; an idle one
gets a thread per free core. Several pools (torch intra-op and inter-op, the tokenizers' Rust pool)
must not each take every core, so the others are held to one.
"""

from __future__ import annotations

import contextlib
import os
import threading

from manyshores.config import Settings

_lock = threading.Lock()
_chosen: int | None = None
_count: int | None = None


def choose_threads(cores: int, load: float) -> int:
    """Threads for `cores` cores when other work keeps `load` runnable threads busy: one per core
    that is free, at least one."""
    return max(1, min(cores, int(cores - load + 0.5)))


def thread_count(settings: Settings) -> int:
    """The process's thread count, chosen once (later calls return the first choice), without
    importing torch: llama.cpp takes it too, and a turn on llama.cpp needs no torch.

    `settings.torch_threads` wins; then `OMP_NUM_THREADS` if the environment sets it; else
    `choose_threads` on the CPUs this process may use and the 1-minute load average.
    """
    global _count
    with _lock:
        if _count is None:
            if settings.torch_threads:
                _count = settings.torch_threads
            elif os.environ.get("OMP_NUM_THREADS", "").isdigit():
                _count = int(os.environ["OMP_NUM_THREADS"]) or 1
            else:
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
                _count = choose_threads(cores, load)
        return _count


def configure_threads(settings: Settings) -> int:
    """Set torch's thread pools to `thread_count` once; returns it."""
    global _chosen
    n = thread_count(settings)
    with _lock:
        if _chosen is not None:
            return _chosen
        # Tokenising a message is fast single-threaded; a Rust pool would compete with torch.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch

        torch.set_num_threads(n)
        # Graph nodes already run in parallel threads; a second pool per op only competes.
        # (RuntimeError: already set, or inter-op work already ran: keep what is there.)
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        _chosen = n
        return n
