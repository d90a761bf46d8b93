"""`Components`: each collaborator of the graph built from the settings on first use."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from manyshores.components.protocols import (
    Detector,
    EvidenceSource,
    ExpertBackend,
    ProfileStore,
    Retriever,
)
from manyshores.config import Settings, get_settings
from manyshores.errors import ExpertStoreError
from manyshores.timing import phase

if TYPE_CHECKING:
    from manyshores.runtime.base_model import BaseModel


def mixes_in_one_batch(kind: str) -> bool:
    """Whether several experts of `kind` run together in one batch (the kind's declared
    capability, `experts.kinds.KindCapabilities.mixed_batch`); unknown kinds run alone."""
    from manyshores.experts.kinds import capabilities

    try:
        return capabilities(kind).mixed_batch
    except ExpertStoreError:
        return False


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
    evidence: EvidenceSource | None = None
    """Human answers to everyday-culture questions, ranked for the question asked."""
    experts: ExpertBackend | None = None
    """Routing, expert answers and aggregation."""
    profiles: ProfileStore | None = None
    """Long-term per-user culture profiles."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False, compare=False)

    def _get(self, name: str) -> Any:
        value = getattr(self, name)
        if value is not None:
            return value
        # One lock per collaborator: each is built once, and a thread building one (the base
        # model, say) does not hold up another thread building a different one (the detector).
        # Building the experts takes the base model's lock inside its own; nothing is built in
        # the opposite order, so this cannot deadlock.
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            value = getattr(self, name)
            if value is None:
                import manyshores.components.defaults as defaults

                with phase("load"):
                    value = getattr(defaults, f"default_{name}")(self)
                setattr(self, name, value)
            return value

    def get_base(self) -> BaseModel:
        return self._get("base")  # type: ignore[no-any-return]

    def get_detector(self) -> Detector:
        return self._get("detector")  # type: ignore[no-any-return]

    def get_retriever(self) -> Retriever:
        return self._get("retriever")  # type: ignore[no-any-return]

    def get_evidence(self) -> EvidenceSource:
        return self._get("evidence")  # type: ignore[no-any-return]

    def get_experts(self) -> ExpertBackend:
        return self._get("experts")  # type: ignore[no-any-return]

    def get_profiles(self) -> ProfileStore:
        return self._get("profiles")  # type: ignore[no-any-return]
