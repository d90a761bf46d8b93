"""Topic digests: passages that gather many questions' answers, scored exactly in memory.

A culture has a few dozen digests among hundreds of specific passages; they score lower than
the closest specific passages (a centroid is never as close as a near-duplicate question), so
the nearest-neighbour search would rarely reach them. Scoring all of them costs microseconds
once their vectors are in memory, so each culture's digests are read once and kept.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from manyshores.passages import Passage

DIGEST_KINDS = frozenset({"blend-digest"})
"""Passage kinds that gather many questions' answers (topic digests)."""
DIGEST_CACHE_TTL_S = 60.0
"""How long a culture's digests are reused before they are read again; this process's own
`KnowledgeBase.add` refreshes them at once."""

ChromaRead = Callable[[], Any]
"""Reads a culture's digests from its collection (a Chroma `get` result with embeddings,
documents and metadatas), or returns None when the culture has no collection."""


class TopicDigests:
    """Each culture's topic digests with their vectors, kept for `DIGEST_CACHE_TTL_S`."""

    def __init__(self) -> None:
        self._cached: dict[str, tuple[float, Any, list[Passage]]] = {}
        self._lock = threading.Lock()

    def forget(self, culture: str) -> None:
        """Read the culture's digests again on the next search (new ones were added)."""
        with self._lock:
            self._cached.pop(culture, None)

    def search(
        self,
        culture: str,
        vector: list[float],
        n: int,
        exclude: Collection[str],
        read: ChromaRead,
    ) -> list[Passage]:
        """The culture's `n` best digests for `vector`, leaving out those that gather any
        question of `exclude`; `read` fetches them when none are kept (or they are stale)."""
        import numpy as np

        with self._lock:
            cached = self._cached.get(culture)
        if cached is None or time.monotonic() - cached[0] > DIGEST_CACHE_TTL_S:
            got = read()
            if got is None:
                return []
            passages = _digest_passages(got, culture)
            emb = got["embeddings"]
            matrix = (
                np.asarray(emb, dtype=np.float32)
                if passages and emb is not None
                else np.zeros((0, len(vector)), dtype=np.float32)
            )
            cached = (time.monotonic(), matrix, passages)
            with self._lock:
                self._cached[culture] = cached
        _, matrix, passages = cached
        if not passages:
            return []
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        excluded = set(exclude)
        out = []
        for i in np.argsort(-sims).tolist():
            p = passages[i]
            if excluded and not excluded.isdisjoint(p.extra["members"]):
                continue
            sim = float(sims[i])
            out.append(dataclasses.replace(p, score=sim, extra={**p.extra, "similarity": sim}))
            if len(out) >= n:
                break
        return out


def _digest_passages(got: Any, culture: str) -> list[Passage]:
    """A Chroma `get` result as passages, each with the question ids it gathers (`members`)."""
    passages = []
    for i, doc_id in enumerate(got["ids"]):
        meta = (got["metadatas"] or [])[i] or {}
        passages.append(
            Passage(
                id=doc_id,
                text=(got["documents"] or [])[i] or "",
                culture=str(meta.get("culture") or culture),
                source=str(meta.get("source", "")),
                score=0.0,
                origin="memory",
                kind=str(meta.get("kind", "")),
                lang=str(meta.get("lang", "")),
                extra={"members": list(meta.get("members") or [])},  # type: ignore[arg-type]
            )
        )
    return passages
