"""Default collaborators for `Components`: the real detector, knowledge base, web and experts.

Each `default_*` function builds one collaborator from the components' settings; `Components`
calls them lazily the first time a node needs that collaborator.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from manyshores.errors import ManyshoresError

if TYPE_CHECKING:
    from manyshores.experts.base_model import BaseModel
    from manyshores.graph.components import (
        Components,
        Detector,
        ExpertBackend,
        ProfileStore,
        Retriever,
    )
    from manyshores.state import CulturePosterior, Source

log = logging.getLogger(__name__)


def default_base(components: Components) -> BaseModel:
    from manyshores.experts.base_model import load_base_model

    return load_base_model(components.settings.base_model, components.settings)


def default_detector(components: Components) -> Detector:
    from manyshores.detection.detector import CultureDetector

    return CultureDetector.from_settings(components.settings)


class KnowledgeAndWebRetriever:
    """Passages from the Chroma knowledge base and from web search, failures as trace notes."""

    def __init__(self, components: Components) -> None:
        self.components = components
        self._kb: Any = None
        self._web: Any = None

    def _knowledge_base(self) -> Any:
        if self._kb is None:
            from manyshores.memory.knowledge_base import KnowledgeBase

            self._kb = KnowledgeBase.open(self.components.settings)
        return self._kb

    def retrieve(self, text: str, posterior: CulturePosterior) -> tuple[list[Source], list[str]]:
        settings = self.components.settings
        cultures = (
            None if posterior["unknown"] else {c["id"]: c["p"] for c in posterior["cultures"]}
        )
        sources: list[Source] = []
        notes: list[str] = []
        try:
            passages = self._knowledge_base().query(text, cultures, k=settings.retrieval_k)
            sources.extend(p.to_source() for p in passages)
        except ManyshoresError as exc:
            notes.append(f"knowledge base unavailable, answering without it: {exc}")
        sources_web, note = self._web_sources(text, posterior)
        sources.extend(sources_web)
        if note:
            notes.append(note)
        return sources, notes

    def _web_sources(
        self, text: str, posterior: CulturePosterior
    ) -> tuple[list[Source], str | None]:
        try:
            from manyshores.web.search import WebSearcher
        except ImportError:
            return [], "web search not available in this installation"
        if self._web is None:
            self._web = WebSearcher.from_settings(self.components.settings)
        top = None if posterior["unknown"] else posterior["cultures"][0]["id"]
        result = self._web.search(text, top)
        return [p.to_source() for p in result.passages], result.note


def default_retriever(components: Components) -> Retriever:
    return KnowledgeAndWebRetriever(components)


def default_profiles(components: Components) -> ProfileStore:
    from manyshores.memory.profile import UserProfiles, open_sqlite_store

    return UserProfiles(
        open_sqlite_store(components.settings.checkpoint_path.with_name("store.sqlite"))
    )


def default_experts(components: Components) -> ExpertBackend:
    from manyshores.graph.committee import CommitteeBackend

    return CommitteeBackend(components)
