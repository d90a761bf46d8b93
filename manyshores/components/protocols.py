"""What the graph's nodes need from their collaborators, as protocols.

Nodes see only these (and `manyshores.state`), so any implementation — the real detector,
knowledge base and experts, or a test's fake — can stand behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from langchain_core.messages import AnyMessage

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
