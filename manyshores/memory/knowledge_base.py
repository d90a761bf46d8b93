"""The cultural knowledge base: one API over embedded Chroma and a `chroma run` server.

Build it once per process and hand it to the graph's runtime context::

    kb = KnowledgeBase.open(settings)          # HttpClient if settings.chroma_url, else embedded
    kb.add(documents)                          # idempotent: ids hash content + source
    passages = kb.query("What do kids eat before school?", {"DZA": 0.8, "MAR": 0.2}, k=4)
    sources = [p.to_source() for p in passages]

`query` filters by the posterior's cultures (each culture's passages weighted by its p), drops
near-duplicates and returns `Passage`s with their source. Every Chroma failure becomes a
`RetrievalError` naming the store (path or URL); the HTTP client has a timeout, so a dead or
hung server gives an error, never a hang.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from manyshores.config import Settings, get_settings
from manyshores.errors import ManyshoresError, RetrievalError
from manyshores.memory.chroma_embedding import ManyshoresMiniLM
from manyshores.memory.embeddings import EMBEDDING_DIM, embed
from manyshores.memory.ingest import strip_place
from manyshores.passages import MAX_GROUP, Document, Passage

DEFAULT_COLLECTION = "manyshores"
_SEP = "--"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_MISS_TTL_S = 30.0
"""A culture found without a collection is not looked up again for this long."""
HNSW_SYNC_THRESHOLD = 100
"""An embedded store writes a collection's vector index to disk after this many new vectors.
Chroma's default (1000) is more than most cultures' collections ever hold, so their indexes
were never written: every new process rebuilt all of them from Chroma's log on its first query
(4.1–4.8 s for the 27 shipped collections, against 0.25 s read from disk; `docs/speed.md`)."""
SEARCH_MIN_CULTURE_P = 0.05
"""Cultures below this posterior are not searched: they would only add noise and latency."""
SEARCH_MAX_CULTURES = 5
"""At most this many cultures are searched (the most probable ones)."""
NEAR_DUPLICATE_JACCARD = 0.8
"""Two passages sharing this much of their character 4-grams say the same thing; only the
better-scored one is kept. (Text shingles rather than vectors: fetching the stored vectors with
every query costs more than the whole comparison.)"""
DIGEST_KINDS = frozenset({"blend-digest"})
"""Passage kinds that gather many questions' answers (topic digests)."""
DIGEST_CACHE_TTL_S = 60.0
"""How long a culture's digests (scored in memory, see `KnowledgeBase._digest_search`) are reused
before they are read again; this process's own `add` refreshes them at once."""
SPECIFIC_SLOTS = 1
"""Of the k passages, this many go to the best question-specific passages; topic digests
(which carry the answers of a dozen related questions each) fill the rest. A specific
passage answers the closest question precisely; the digests cover what it misses."""


@dataclass(frozen=True)
class AddReport:
    """What `KnowledgeBase.add` did."""

    added: int
    """Documents embedded and stored."""
    skipped: int
    """Documents already present (same id) or repeated within the input."""


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def culture_weights(cultures: Mapping[str, float] | None) -> dict[str, float]:
    """Posterior → weights in (0, 1] relative to the most likely culture (sqrt-damped).

    sqrt keeps a second culture at p=0.3 next to one at 0.7 visible (weight 0.65) instead of
    burying it (0.43): passages about a plausible culture are still useful context.
    """
    if not cultures:
        return {}
    kept = sorted(
        ((c, p) for c, p in cultures.items() if p >= SEARCH_MIN_CULTURE_P), key=lambda x: -x[1]
    )
    kept = kept[:SEARCH_MAX_CULTURES]
    if not kept:
        return {}
    top = kept[0][1]
    return {c: math.sqrt(p / top) for c, p in kept}


class KnowledgeBase:
    """Cultural passages in Chroma, one collection per culture, embedded with the offline MiniLM.

    One collection per culture (`<name>--<culture>`) rather than one filtered collection: a
    metadata filter costs Chroma several times the nearest-neighbour search itself, and nearly
    every query is restricted to the posterior's few cultures.
    """

    def __init__(self, client: Any, name: str, location: str) -> None:
        self._client = client
        self.name = name
        """Collection name prefix."""
        self.location = location
        """Path (embedded) or URL (server); named in every error."""
        self._collections: dict[str, Any] = {}
        self._missing: dict[str, float] = {}
        self._digests: dict[str, tuple[float, Any, list[Passage]]] = {}
        self._listed: tuple[float, list[str]] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        collection: str = DEFAULT_COLLECTION,
        timeout_s: float = 10.0,
    ) -> KnowledgeBase:
        """Open the knowledge base named by the settings (collections are created on `add`).

        `settings.chroma_url` set → `HttpClient` with a `timeout_s` request timeout; else a
        `PersistentClient` at `settings.chroma_dir`.
        """
        import chromadb

        settings = settings or get_settings()
        if settings.chroma_url:
            location = settings.chroma_url
            url = urlparse(settings.chroma_url)
            if not url.hostname:
                raise RetrievalError(f"chroma_url {settings.chroma_url!r} is not an http(s) URL")
            ssl = url.scheme == "https"
            port = url.port or (443 if ssl else 8000)
            try:
                client = chromadb.HttpClient(
                    host=url.hostname, port=port, ssl=ssl, settings=_chroma_settings()
                )
            except Exception as exc:
                raise RetrievalError(
                    f"cannot reach the Chroma server at {location}: {exc}"
                ) from exc
            _set_http_timeout(client, timeout_s)
        else:
            path = settings.chroma_dir
            location = str(path)
            if path.exists() and not path.is_dir():
                raise RetrievalError(f"the Chroma path {path} is a file, not a directory")
            try:
                path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
            except Exception as exc:
                raise RetrievalError(
                    f"the Chroma store at {path} cannot be opened (corrupt or unreadable?): {exc}. "
                    "Move it aside and re-ingest."
                ) from exc
        kb = cls(client, collection, location)
        kb.cultures()  # fail now, not in the middle of a turn, when the store is unusable
        return kb

    def collection_name(self, culture: str) -> str:
        return f"{self.name}{_SEP}{_SAFE.sub('_', culture) or 'unknown'}"

    def cultures(self) -> list[str]:
        """Cultures with a collection in the store."""
        with self._guard("list collections"):
            names = [getattr(c, "name", c) for c in self._client.list_collections()]
        prefix = f"{self.name}{_SEP}"
        return sorted(str(n)[len(prefix) :] for n in names if str(n).startswith(prefix))

    def _listed_cultures(self) -> list[str]:
        """`cultures()` remembered for `_MISS_TTL_S`: listing collections costs a turn several
        ms, and a query with no culture (or one without documents) would list them each time.
        This process's own new collections reset it; other processes' show within the TTL."""
        with self._lock:
            listed = self._listed
        if listed is None or time.monotonic() - listed[0] >= _MISS_TTL_S:
            listed = (time.monotonic(), self.cultures())
            with self._lock:
                self._listed = listed
        return listed[1]

    def _collection(self, culture: str, *, create: bool = False) -> Any | None:
        with self._lock:
            col = self._collections.get(culture)
            if col is not None:
                return col
            # Remember misses briefly: a posterior often names cultures with no documents.
            if not create and time.monotonic() - self._missing.get(culture, -1e9) < _MISS_TTL_S:
                return None
        name = self.collection_name(culture)
        ef = ManyshoresMiniLM()
        with self._guard(f"open collection {name}"):
            if create:
                col = self._client.get_or_create_collection(
                    name,
                    embedding_function=ef,  # type: ignore[arg-type]
                    configuration={
                        "hnsw": {"space": "cosine", "sync_threshold": HNSW_SYNC_THRESHOLD}
                    },
                    metadata={"culture": culture},
                )
            else:
                if name not in {f"{self.name}{_SEP}{c}" for c in self._listed_cultures()}:
                    with self._lock:
                        self._missing[culture] = time.monotonic()
                    return None
                col = self._client.get_collection(name, embedding_function=ef)  # type: ignore[arg-type]
                self._keep_index_on_disk(col)
        with self._lock:
            self._collections[culture] = col
            self._missing.pop(culture, None)
            if create:
                self._listed = None
        return col

    def _keep_index_on_disk(self, col: Any) -> bool:
        """Lower an embedded collection's index write threshold to `HNSW_SYNC_THRESHOLD` when it
        is above (a store made before it was set): this process's first query then writes the
        index, and the next processes read it. True when changed; a failure (a read-only
        store) only leaves the index rebuilt per process, as before."""
        if self.location.startswith(("http://", "https://")):
            return False
        hnsw = (getattr(col, "configuration_json", None) or {}).get("hnsw") or {}
        if int(hnsw.get("sync_threshold") or 0) <= HNSW_SYNC_THRESHOLD:
            return False
        try:
            col.modify(configuration={"hnsw": {"sync_threshold": HNSW_SYNC_THRESHOLD}})
        except Exception:
            return False
        return True

    def persist_indexes(self) -> int:
        """Make every collection's vector index kept on disk (collections made before
        `HNSW_SYNC_THRESHOLD` was set are changed to it) and write it now, by one query each:
        later processes read the indexes instead of rebuilding them. Returns how many indexes
        were loaded; a server store (`chroma_url`) keeps its own and is left."""
        if self.location.startswith(("http://", "https://")):
            return 0
        written = 0
        probe = [0.0] * EMBEDDING_DIM
        probe[0] = 1.0
        for culture in self.cultures():
            col = self._collection(culture)
            if col is None:
                continue
            # `_collection` lowered its threshold. Loading the index replays Chroma's log
            # into it and, past the threshold, writes it to disk.
            with self._guard(f"write the index of {col.name}"):
                col.query(query_embeddings=[probe], n_results=1, include=[])
            written += 1
        return written

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except ManyshoresError:
            raise
        except Exception as exc:
            raise RetrievalError(
                f"knowledge base at {self.location}: {action} failed: {type(exc).__name__}: {exc}"
            ) from exc

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
                col = self._collection(culture, create=True)
                assert col is not None  # create=True always returns one
                ids = [d.id for d in group]
                with self._guard("lookup"):
                    present = set(col.get(ids=ids, include=[])["ids"])
                new = [d for d in group if d.id not in present]
                skipped += len(group) - len(new)
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
                    added += len(new)
                if any(d.kind in DIGEST_KINDS for d in new):
                    with self._lock:
                        self._digests.pop(culture, None)
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
        return _select(candidates, k)

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
        """The culture's `n` best topic digests, every digest scored exactly in memory.

        A culture has a few dozen digests among hundreds of specific passages; they score lower
        than the closest specific passages (a centroid is never as close as a near-duplicate
        question), so the nearest-neighbour search would rarely reach them. Scoring all of them
        costs microseconds once their vectors are in memory.
        """
        import numpy as np

        with self._lock:
            cached = self._digests.get(culture)
        if cached is None or time.monotonic() - cached[0] > DIGEST_CACHE_TTL_S:
            col = self._collection(culture)
            if col is None:
                return []
            with self._guard("read digests"):
                got = col.get(
                    where={"kind": {"$in": sorted(DIGEST_KINDS)}},
                    include=["embeddings", "documents", "metadatas"],
                )
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
            emb = got["embeddings"]
            matrix = (
                np.asarray(emb, dtype=np.float32)
                if passages and emb is not None
                else np.zeros((0, len(vector)), dtype=np.float32)
            )
            cached = (time.monotonic(), matrix, passages)
            with self._lock:
                self._digests[culture] = cached
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

    def count(self) -> int:
        total = 0
        for culture in self.cultures():
            col = self._collection(culture)
            if col is not None:
                with self._guard("count"):
                    total += int(col.count())
        return total


def query_text(text: str, cultures: Mapping[str, float] | None) -> str:
    """The text a query is embedded from: `text` without the English names of the cultures it
    is restricted to (`culture_weights`); unchanged for an unfiltered query."""
    names: list[str] = []
    for culture in culture_weights(cultures):
        names += _english_names(culture)
    if not names:
        return text
    stripped = strip_place(text, sorted(set(names), key=len, reverse=True))
    return stripped or text


@functools.lru_cache(maxsize=512)
def _english_names(culture: str) -> list[str]:
    try:
        from manyshores.cultures import get_registry

        return list(get_registry().get(culture).names.get("en", []))
    except Exception:  # an id the registry does not know: nothing to strip
        return []


def _set_http_timeout(client: Any, timeout_s: float) -> None:
    """chromadb's HTTP client is built with `timeout=None`: a hung server would hang us forever."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))


def _shingles(text: str, n: int = 4) -> set[str]:
    norm = " ".join(text.lower().split())
    return {norm[i : i + n] for i in range(max(len(norm) - n + 1, 1))}


def _select(candidates: list[Passage], k: int) -> list[Passage]:
    """The k passages of a query from candidates sorted by score: near-duplicates dropped, the
    best SPECIFIC_SLOTS question-specific passages, then the best topic digests (whichever kind
    runs short, the other fills in), returned best score first."""
    specific = _drop_near_duplicates([p for p in candidates if p.kind not in DIGEST_KINDS], k)
    digests = _drop_near_duplicates([p for p in candidates if p.kind in DIGEST_KINDS], k)
    n_specific = max(min(SPECIFIC_SLOTS, k), k - len(digests))
    chosen = (specific[:n_specific] + digests)[:k] if digests else specific[:k]
    return sorted(chosen, key=lambda p: -p.score)


def _drop_near_duplicates(candidates: list[Passage], k: int) -> list[Passage]:
    kept: list[Passage] = []
    kept_shingles: list[set[str]] = []
    for passage in candidates:
        if any(passage.id == p.id for p in kept):
            continue
        sh = _shingles(passage.text)
        if any(len(sh & o) / max(len(sh | o), 1) >= NEAR_DUPLICATE_JACCARD for o in kept_shingles):
            continue
        kept.append(passage)
        kept_shingles.append(sh)
        if len(kept) >= k:
            break
    return kept


def default_store_path(settings: Settings | None = None) -> Path:
    """Where the embedded store lives for these settings."""
    return (settings or get_settings()).chroma_dir
