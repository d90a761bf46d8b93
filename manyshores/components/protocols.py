"""What the graph's nodes need from their collaborators, as protocols.

Nodes see only these (and `manyshores.state`), so any implementation — the real detector,
knowledge base and experts, or a test's fake — can stand behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from langchain_core.messages import AnyMessage

    from manyshores.config import Settings
    from manyshores.detection.follow_up import FollowUp
    from manyshores.evidence.options import OptionEvidence
    from manyshores.evidence.types import Evidence
    from manyshores.experts.routing import RouteDecision
    from manyshores.runtime.base_model import BaseModel
    from manyshores.state import (
        CulturePosterior,
        EvidenceRecord,
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

    def language_of(self, text: str) -> tuple[str, float] | None:
        """(ISO 639-1 language, confidence) of a message, or None when it cannot tell."""
        ...

    def without_places(self, text: str) -> str:
        """The text with place names and demonyms replaced by neutral words."""
        ...

    def read_follow_up(self, earlier: Sequence[str], text: str) -> FollowUp:
        """The question `text` asks after the user's `earlier` messages (oldest first): a short
        follow-up replaces the place or the topic it names and keeps the rest."""
        ...

    def normalize(self, culture: str) -> str:
        """Canonical culture id, or raise InvalidInputError."""
        ...


class Retriever(Protocol):
    def retrieve(self, text: str, posterior: CulturePosterior) -> tuple[list[Source], list[str]]:
        """Passages from memory and web, plus trace notes (skipped, failed, ...)."""
        ...


class ExpertBackend(Protocol):
    def route(
        self,
        posterior: CulturePosterior,
        task: TaskInfo,
        *,
        has_evidence: bool = False,
        language: str | None = None,
        answered: bool = False,
    ) -> RouteDecision:
        """How the turn is answered (`experts.routing.route`): its path, experts and reason.

        `has_evidence`: people's answers to this open question were found; `language`: the
        language the person wrote in (the base model's text is shown only in some);
        `answered`: the evidence answers this very question (worded `answer`)."""
        ...

    def answer(
        self,
        choices: list[ExpertChoice],
        *,
        text: str,
        task: TaskInfo,
        sources: list[Source],
        conversation: list[dict[str, str]],
        on_token: Callable[[str], None] | None = None,
        evidence: list[EvidenceRecord] | None = None,
        language: str | None = None,
        models_needed: Callable[[], bool] | None = None,
    ) -> list[ExpertAnswer]:
        """Answers of a batch of experts that run together (see `nodes.route.expert_batches`).

        `on_token` receives a single generating expert's text as it is produced; `evidence`,
        the turn's ranked human answers, and `language`, the reply's, are given to a `grounded`
        batch (only it reads them). `models_needed`, asked before an option question's experts
        run their models (after survey memory had its say): False leaves them out."""
        ...

    def aggregate(
        self, answers: list[ExpertAnswer], task: TaskInfo
    ) -> tuple[str, list[float], int | None, float, list[str]]:
        """(answer text, option probs, chosen option, disagreement, notes)."""
        ...


class EvidenceSource(Protocol):
    def rank(
        self,
        question: str,
        culture: str,
        *,
        language: str | None = None,
        exclude_ids: Collection[str] = (),
        k: int = 3,
    ) -> Evidence:
        """The best-ranked answers `culture`'s people gave to questions like `question`."""
        ...

    def score_options(
        self,
        question: str,
        culture: str,
        options: Sequence[str],
        *,
        language: str | None = None,
        exclude_ids: Collection[str] = (),
    ) -> OptionEvidence:
        """Each option of an everyday question weighed against what `culture`'s people answered
        to similar questions (`evidence.options`)."""
        ...


class ProfileStore(Protocol):
    def get(self, user_id: str) -> dict[str, float] | None: ...

    def record(self, user_id: str, cultures: Mapping[str, float]) -> object: ...


class Engine(Protocol):
    """Model work for a batch of experts of one base model: the in-process `Committee`, or a
    vLLM server (`experts.vllm.engine`)."""

    def score_options(
        self,
        question: str,
        options: list[str],
        context: str | None,
        choices: list[ExpertChoice],
    ) -> list[ExpertAnswer]:
        """Each expert's distribution over `options`."""
        ...

    def generate(
        self,
        messages: list[dict[str, str]],
        choices: list[ExpertChoice],
        max_new_tokens: int = 96,
        ignore_eos: bool = False,
        on_token: Callable[[str], None] | None = None,
    ) -> list[ExpertAnswer]:
        """Each expert's greedy answer; `on_token` streams a lone plain-generating expert."""
        ...


class ComponentSource(Protocol):
    """What a default factory and the expert backend read of the components: the settings and
    the shared base model (`Components` is the implementation)."""

    settings: Settings
    base: BaseModel | None

    def get_base(self) -> BaseModel: ...
