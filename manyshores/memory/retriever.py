"""Both sources of cultural context behind one call, for the graph's `retrieve` node.

    retriever = CulturalRetriever.from_settings(settings)     # once per process; opens lazily
    sources, notes = retriever.retrieve(text, posterior)      # list[Source], list[str]

Memory: the knowledge base filtered by the posterior's cultures (weighted by p); an unknown
culture searches everything. Web: Tavily for the most likely culture. Neither source ever fails
the turn: an unreachable store or a failed search becomes a trace note and an empty list.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from manyshores.config import Settings, get_settings
from manyshores.errors import RetrievalError
from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.passages import Passage
from manyshores.state import CulturePosterior, Source
from manyshores.timing import phase
from manyshores.web.search import WebSearcher

MAX_WEB_QUERY_CHARS = 380
"""Tavily rejects long queries; the start of a message carries its question."""


def posterior_cultures(posterior: CulturePosterior | None) -> dict[str, float] | None:
    """culture → p from a posterior, or None when the culture is unknown."""
    if not posterior or posterior.get("unknown") or not posterior.get("cultures"):
        return None
    return {c["id"]: float(c["p"]) for c in posterior["cultures"]}


@dataclass
class CulturalRetriever:
    """Knowledge base + web search; implements the graph's `Retriever` protocol."""

    settings: Settings = field(default_factory=get_settings)
    """Where the store, the web endpoint and `retrieval_k` come from."""
    kb: KnowledgeBase | None = None
    """The knowledge base (opened from `settings` on first use when None)."""
    web: WebSearcher | None = None
    """The web searcher (built from `settings` on first use when None)."""
    use_web: bool = True
    """False turns the web step off entirely (no note)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _kb_error: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: object) -> CulturalRetriever:
        return cls(settings=settings or get_settings(), **kwargs)  # type: ignore[arg-type]

    def _get_kb(self) -> KnowledgeBase:
        with self._lock:
            if self.kb is None:
                self.kb = KnowledgeBase.open(self.settings)
            return self.kb

    def _get_web(self) -> WebSearcher:
        with self._lock:
            if self.web is None:
                self.web = WebSearcher.from_settings(self.settings)
            return self.web

    def memory(
        self, text: str, posterior: CulturePosterior | None
    ) -> tuple[list[Passage], str | None]:
        try:
            found = self._get_kb().query(
                text, posterior_cultures(posterior), self.settings.retrieval_k
            )
        except RetrievalError as exc:
            return [], f"knowledge base unavailable, answering without it: {exc}"
        # Off-topic passages only distract a small model (it tends to copy them).
        relevant = [
            p
            for p in found
            if p.extra.get("similarity", p.score) >= self.settings.retrieval_min_similarity
        ]
        note = None
        if len(relevant) < len(found):
            note = (
                f"{len(found) - len(relevant)} knowledge-base passages below similarity "
                f"{self.settings.retrieval_min_similarity} left out"
            )
        return relevant, note

    def web_search(
        self, text: str, posterior: CulturePosterior | None
    ) -> tuple[list[Passage], str | None]:
        cultures = posterior_cultures(posterior)
        top = max(cultures, key=lambda c: cultures[c]) if cultures else None
        result = self._get_web().search(text[:MAX_WEB_QUERY_CHARS], top)
        return result.passages[: self.settings.retrieval_k], result.note

    def retrieve(
        self, text: str, posterior: CulturePosterior | None
    ) -> tuple[list[Source], list[str]]:
        """Sources (memory first, then web) and trace notes for one turn."""
        with phase("retrieval"):
            notes: list[str] = []
            passages, note = self.memory(text, posterior)
            if note:
                notes.append(note)
            if self.use_web:
                web, note = self.web_search(text, posterior)
                passages += web
                if note:
                    notes.append(note)
            return [p.to_source() for p in passages], notes
