"""Grounding passages for a planned query: web search (Tavily) and the knowledge base.

Both sources return `Passage`s with an id and a source (URL or dataset reference), which every
synthesised example records as its provenance. Neither source failing stops synthesis: a web
failure or a knowledge-base error becomes a note in the report and that source gives nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from manyshores.errors import ManyshoresError

if TYPE_CHECKING:
    from manyshores.memory.knowledge_base import KnowledgeBase
    from manyshores.passages import Passage
    from manyshores.synthesis.plan import PlannedQuery
    from manyshores.web.search import WebSearcher

log = logging.getLogger(__name__)

MIN_PASSAGE_CHARS = 40
"""Shorter passages (titles, menus) rarely state a fact an example could rest on."""


@dataclass
class PassageSources:
    """Where grounding passages come from."""

    web: WebSearcher | None = None
    """Tavily client; None (or no API key) skips the web."""
    kb: KnowledgeBase | None = None
    """Knowledge base; None skips it."""
    k: int = 4
    """Passages per source and query."""
    exclude_question_ids: frozenset[str] = frozenset()
    """BLEnD question ids whose annotations must not ground training data (evaluated ones)."""
    notes: list[str] = field(default_factory=list)
    """Distinct reasons a source gave nothing (for the report)."""

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)
            log.info("%s", note)

    def retrieve(self, query: PlannedQuery, culture: str) -> list[Passage]:
        """Web passages first, then knowledge-base ones, without repeats or tiny snippets."""
        found: list[Passage] = []
        if self.web is not None:
            result = self.web.search(query.text, culture, max_results=self.k)
            if result.note:
                self._note(result.note)
            found.extend(result.passages)
        if self.kb is not None:
            try:
                hits = self.kb.query(
                    query.text,
                    {culture: 1.0},
                    self.k,
                    exclude_question_ids=self.exclude_question_ids,
                )
            except ManyshoresError as exc:
                self._note(f"knowledge base unavailable: {exc}")
            else:
                if not hits:  # say so: an empty or other-culture base silently grounds nothing
                    self._note(
                        f"knowledge base gave no passages for {culture} (is it ingested? "
                        "see `manyshores kb stats`)"
                    )
                found.extend(hits)
        seen: set[str] = set()
        passages = []
        for p in found:
            if p.id in seen or len(p.text.strip()) < MIN_PASSAGE_CHARS:
                continue
            seen.add(p.id)
            passages.append(p)
        return passages
