"""One Chroma collection per culture: opening the client, finding and creating collections.

The knowledge base (`knowledge_base.py`) builds on this: what is stored and how a query is
answered live there; how the store is reached, and which cultures it holds, live here. Every
Chroma failure becomes a `RetrievalError` naming the store (path or URL); the HTTP client has a
timeout, so a dead or hung server gives an error, never a hang.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlparse

from manyshores.config import Settings, get_settings
from manyshores.errors import ManyshoresError, RetrievalError
from manyshores.memory.chroma_embedding import ManyshoresMiniLM
from manyshores.memory.embeddings import EMBEDDING_DIM

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

StoreT = TypeVar("StoreT", bound="CultureCollections")


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _set_http_timeout(client: Any, timeout_s: float) -> None:
    """chromadb's HTTP client is built with `timeout=None`: a hung server would hang us forever."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))


def open_client(settings: Settings, timeout_s: float) -> tuple[Any, str]:
    """The Chroma client the settings name and where it points (named in every error).

    `settings.chroma_url` set → `HttpClient` with a `timeout_s` request timeout; else a
    `PersistentClient` at `settings.chroma_dir`."""
    import chromadb

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
            raise RetrievalError(f"cannot reach the Chroma server at {location}: {exc}") from exc
        _set_http_timeout(client, timeout_s)
        return client, location
    path = settings.chroma_dir
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
    return client, str(path)


class CultureCollections:
    """A Chroma store holding one collection per culture (`<name>--<culture>`), embedded with
    the offline MiniLM.

    One collection per culture rather than one filtered collection: a metadata filter costs
    Chroma several times the nearest-neighbour search itself, and nearly every query is
    restricted to the posterior's few cultures.
    """

    def __init__(self, client: Any, name: str, location: str) -> None:
        self._client = client
        self.name = name
        """Collection name prefix."""
        self.location = location
        """Path (embedded) or URL (server); named in every error."""
        self._collections: dict[str, Any] = {}
        self._missing: dict[str, float] = {}
        self._listed: tuple[float, list[str]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls: type[StoreT],
        settings: Settings | None = None,
        *,
        collection: str = DEFAULT_COLLECTION,
        timeout_s: float = 10.0,
    ) -> StoreT:
        """Open the store named by the settings (collections are created on first write)."""
        client, location = open_client(settings or get_settings(), timeout_s)
        store = cls(client, collection, location)
        store.cultures()  # fail now, not in the middle of a turn, when the store is unusable
        return store

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
        """The culture's collection (made when `create`), or None when it has none."""
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

    def count(self) -> int:
        """Documents in every culture's collection."""
        total = 0
        for culture in self.cultures():
            col = self._collection(culture)
            if col is not None:
                with self._guard("count"):
                    total += int(col.count())
        return total

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
