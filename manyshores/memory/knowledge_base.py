"""The cultural knowledge base: one API over embedded Chroma and a `chroma run` server.

Build it once per process and hand it to the graph's runtime context::

    kb = KnowledgeBase.open(settings)          # HttpClient if settings.chroma_url, else embedded
    kb.add(documents)                          # idempotent: ids hash content + source
    passages = kb.query("What do kids eat before school?", {"DZA": 0.8, "MAR": 0.2}, k=4)
    sources = [p.to_source() for p in passages]

`query` filters by the posterior's cultures (each culture's passages weighted by its p), drops
near-duplicates and returns `Passage`s with their source. Every Chroma failure becomes a
`RetrievalError` naming the store (path or URL).

Its parts: `chroma_store.py` (the client, one collection per culture), `digests.py` (topic
digests scored in memory) and `passage_selection.py` (what a query searches and keeps).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manyshores.config import Settings, get_settings
from manyshores.memory.chroma_store import (
    DEFAULT_COLLECTION,
    HNSW_SYNC_THRESHOLD,
    CultureCollections,
)
from manyshores.memory.digests import DIGEST_KINDS, TopicDigests
from manyshores.memory.embeddings import embed
from manyshores.memory.passage_selection import (
    SEARCH_MAX_CULTURES,
    SEARCH_MIN_CULTURE_P,
    culture_weights,
    query_text,
    select_passages,
)
from manyshores.passages import MAX_GROUP, Document, Passage

__all__ = [
    "DEFAULT_COLLECTION",
    "DIGEST_KINDS",
    "HNSW_SYNC_THRESHOLD",
    "SEARCH_MAX_CULTURES",
    "SEARCH_MIN_CULTURE_P",
    "AddReport",
    "KnowledgeBase",
    "culture_weights",
    "default_store_path",
    "query_text",
]


@dataclass(frozen=True)
class AddReport:
    """What `KnowledgeBase.add` did."""

    added: int
    """Documents embedded and stored."""
    skipped: int
    """Documents already present (same id) or repeated within the input."""


class KnowledgeBase(CultureCollections):
    """Cultural passages in Chroma, one collection per culture (`CultureCollections`): adding
    documents, and queries that weigh each culture by its posterior."""

    def __init__(self, client: Any, name: str, location: str) -> None:
        super().__init__(client, name, location)
        self._digests = TopicDigests()

    # ------------------------------------------------------------------ writing
    def add(
        self,
        docs: Iterable[Document],
        *,
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> AddReport:
        """Embed and store documents not already present; `progress(n)` after each batch."""
        added = skipped = 0
        seen: set[str] = set()
        batch: list[Document] = []

        def flush() -> None:
            nonlocal added, skipped
            by_culture: dict[str, list[Document]] = {}
            for d in batch:
                by_culture.setdefault(d.culture, []).append(d)
            for culture, group in by_culture.items():
                stored = self._add_new(culture, group)
                skipped += len(group) - stored
                added += stored
            if progress and batch:
                progress(len(batch))
            batch.clear()

        for doc in docs:
            if doc.id in seen:
                skipped += 1
                continue
            seen.add(doc.id)
            batch.append(doc)
            if len(batch) >= batch_size:
                flush()
        flush()
        return AddReport(added=added, skipped=skipped)

    def _add_new(self, culture: str, group: list[Document]) -> int:
        """Store the documents of one culture that its collection lacks; how many were new."""
        col = self._collection(culture, create=True)
        assert col is not None  # create=True always returns one
        ids = [d.id for d in group]
        with self._guard("lookup"):
            present = set(col.get(ids=ids, include=[])["ids"])
        new = [d for d in group if d.id not in present]
        if new:
            to_embed = [d.text for d in new if d.vector is None]
            embedded = iter(embed(to_embed) if to_embed else [])
            vectors = [list(d.vector) if d.vector else next(embedded) for d in new]
            with self._guard("add"):
                col.add(
                    ids=[d.id for d in new],
                    documents=[d.text for d in new],
                    embeddings=vectors,  # type: ignore[arg-type]
                    metadatas=[d.metadata() for d in new],  # type: ignore[arg-type]
                )
        if any(d.kind in DIGEST_KINDS for d in new):
            self._digests.forget(culture)
        return len(new)

    # ------------------------------------------------------------------ reading
    def query(
        self,
        text: str,
        cultures: Mapping[str, float] | None = None,
        k: int = 4,
        *,
        exclude_question_ids: Collection[str] = (),
    ) -> list[Passage]:
        """Top-`k` passages for `text`, restricted to `cultures` (a posterior) when given.

        The names of the searched cultures are taken out of the text first: the filter already
        says where, and "... in Algeria?" would otherwise pull towards every passage that names
        Algeria rather than towards the topic."""
        return self.query_vector(
            embed([query_text(text, cultures)])[0],
            cultures,
            k,
            exclude_question_ids=exclude_question_ids,
        )

    def query_batch(
        self,
        texts: Sequence[str],
        cultures: Sequence[Mapping[str, float] | None],
        k: int = 4,
        *,
        exclude_question_ids: Sequence[Collection[str]] | None = None,
    ) -> list[list[Passage]]:
        """`query` for many texts with one embedding pass (batch evaluation)."""
        vectors = (
            embed([query_text(t, c) for t, c in zip(texts, cultures, strict=True)]) if texts else []
        )
        excl = exclude_question_ids or [()] * len(texts)
        return [
            self.query_vector(v, c, k, exclude_question_ids=e)
            for v, c, e in zip(vectors, cultures, excl, strict=True)
        ]

    def query_vector(
        self,
        vector: list[float],
        cultures: Mapping[str, float] | None = None,
        k: int = 4,
        *,
        exclude_question_ids: Collection[str] = (),
    ) -> list[Passage]:
        weights = culture_weights(cultures) or dict.fromkeys(self._listed_cultures(), 1.0)
        # Fetch extra candidates: some will be near-duplicates of better ones.
        n = max(k * 3, k + 4)
        candidates: list[Passage] = []
        for culture, weight in weights.items():
            found = self._search(vector, culture, n, exclude_question_ids)
            found += self._digest_search(vector, culture, n, exclude_question_ids)
            for passage in found:
                passage.score = passage.extra["similarity"] * weight
                candidates.append(passage)
        candidates.sort(key=lambda p: -p.score)
        return select_passages(candidates, k)

    def _search(
        self, vector: list[float], culture: str, n: int, exclude: Collection[str]
    ) -> list[Passage]:
        col = self._collection(culture)
        if col is None:
            return []
        where: dict[str, Any] | None = None
        if exclude:
            # Documents without a key match `$nin` / `$not_contains`, so one clause per group
            # slot and one per excluded question for the digests' `members` array is enough.
            keys = ["qid", *(f"g{i}" for i in range(MAX_GROUP))]
            clauses: list[dict[str, Any]] = [{key: {"$nin": sorted(exclude)}} for key in keys]
            clauses += [{"members": {"$not_contains": q}} for q in sorted(exclude)]
            where = {"$and": clauses}
        with self._guard("query"):
            res = col.query(
                query_embeddings=[vector],
                n_results=n,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        out: list[Passage] = []
        for i, doc_id in enumerate(res["ids"][0]):
            meta = res["metadatas"][0][i] or {}
            sim = 1.0 - float(res["distances"][0][i])
            passage = Passage(
                id=doc_id,
                text=res["documents"][0][i] or "",
                culture=str(meta.get("culture") or culture),
                source=str(meta.get("source", "")),
                score=sim,
                origin="memory",
                kind=str(meta.get("kind", "text")),
                lang=str(meta.get("lang", "")),
                question_id=str(meta.get("qid", "")),
                extra={"similarity": sim},
            )
            out.append(passage)
        return out

    def _digest_search(
        self, vector: list[float], culture: str, n: int, exclude: Collection[str]
    ) -> list[Passage]:
        """The culture's `n` best topic digests, every digest scored exactly in memory."""

        def read() -> Any:
            col = self._collection(culture)
            if col is None:
                return None
            with self._guard("read digests"):
                return col.get(
                    where={"kind": {"$in": sorted(DIGEST_KINDS)}},
                    include=["embeddings", "documents", "metadatas"],
                )

        return self._digests.search(culture, vector, n, exclude, read)

    def stats(self) -> dict[str, Any]:
        """Document count, per-culture and per-kind counts, and where the store lives."""
        cultures: dict[str, int] = {}
        kinds: Counter[str] = Counter()
        page = 5000
        for culture in self.cultures():
            col = self._collection(culture)
            if col is None:
                continue
            with self._guard("stats"):
                total = int(col.count())
                for offset in range(0, total, page):
                    got = col.get(include=["metadatas"], limit=page, offset=offset)
                    for meta in got["metadatas"] or []:
                        kinds[str((meta or {}).get("kind", "?"))] += 1
            cultures[culture] = total
        return {
            "location": self.location,
            "collection": self.name,
            "documents": sum(cultures.values()),
            "cultures": cultures,
            "kinds": dict(sorted(kinds.items())),
        }


def default_store_path(settings: Settings | None = None) -> Path:
    """Where the embedded store lives for these settings."""
    return (settings or get_settings()).chroma_dir
