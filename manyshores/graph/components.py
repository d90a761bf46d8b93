"""The heavy collaborators of the graph, built once per process and handed to the nodes.

Nodes receive a `Components` object when the graph is built (closures, see `builder.py`) rather
than through a per-call runtime context: the compiled graph must stay a self-contained Runnable
so it can be embedded in an LCEL chain or as a subgraph whose host knows nothing about us.
Every collaborator is created lazily on first use, so a turn that needs no web search never
builds a web client, and `manyshores trace` never loads a model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from manyshores.config import Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.messages import AnyMessage

    from manyshores.experts.base_model import BaseModel
    from manyshores.state import (
        CulturePosterior,
        ExpertAnswer,
        ExpertChoice,
        Source,
        TaskInfo,
        Turn,
    )


class Detector(Protocol):
    def detect(
        self,
        messages: list[AnyMessage],
        *,
        explicit: str | None,
        profile: dict[str, float] | None,
        history: list[Turn],
    ) -> CulturePosterior: ...

    def detect_task(self, text: str) -> TaskInfo: ...

    def normalize(self, culture: str) -> str:
        """Canonical culture id, or raise InvalidInputError."""
        ...


class Retriever(Protocol):
    def retrieve(self, text: str, posterior: CulturePosterior) -> tuple[list[Source], list[str]]:
        """Passages from memory and web, plus trace notes (skipped, failed, ...)."""
        ...


class ExpertBackend(Protocol):
    def route(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]: ...

    def answer(
        self,
        choices: list[ExpertChoice],
        *,
        text: str,
        task: TaskInfo,
        sources: list[Source],
        conversation: list[dict[str, str]],
        on_token: Callable[[str], None] | None = None,
    ) -> list[ExpertAnswer]:
        """Answers of a batch of experts that run together (see `nodes.route.expert_batches`).

        `on_token` receives a single generating expert's text as it is produced."""
        ...

    def aggregate(
        self, answers: list[ExpertAnswer], task: TaskInfo
    ) -> tuple[str, list[float], int | None, float, list[str]]:
        """(answer text, option probs, chosen option, disagreement, notes)."""
        ...


class ProfileStore(Protocol):
    def get(self, user_id: str) -> dict[str, float] | None: ...

    def record(self, user_id: str, cultures: Mapping[str, float]) -> object: ...


@dataclass
class Components:
    """Everything the nodes need; any field left as None is built from `settings` on first use."""

    settings: Settings = field(default_factory=get_settings)
    """Where every default comes from."""
    base: BaseModel | None = None
    """The shared base model (default: `load_base_model(settings.base_model)`)."""
    detector: Detector | None = None
    """Culture and task detection."""
    retriever: Retriever | None = None
    """Knowledge base + web search."""
    experts: ExpertBackend | None = None
    """Routing, expert answers and aggregation."""
    profiles: ProfileStore | None = None
    """Long-term per-user culture profiles."""
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def _get(self, name: str) -> Any:
        # Re-entrant lock: building the experts needs the base model.
        with self._lock:
            value = getattr(self, name)
            if value is None:
                from manyshores.graph import adapters

                value = getattr(adapters, f"default_{name}")(self)
                setattr(self, name, value)
            return value

    def get_base(self) -> BaseModel:
        return self._get("base")  # type: ignore[no-any-return]

    def get_detector(self) -> Detector:
        return self._get("detector")  # type: ignore[no-any-return]

    def get_retriever(self) -> Retriever:
        return self._get("retriever")  # type: ignore[no-any-return]

    def get_experts(self) -> ExpertBackend:
        return self._get("experts")  # type: ignore[no-any-return]

    def get_profiles(self) -> ProfileStore:
        return self._get("profiles")  # type: ignore[no-any-return]
