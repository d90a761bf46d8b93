"""The default component factories: the real detector, knowledge base, web and experts.

Each `default_*` function builds one collaborator from the components' settings; `Components`
calls them lazily the first time a node needs that collaborator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from manyshores.components.protocols import (
        ComponentSource,
        Detector,
        EvidenceSource,
        ExpertBackend,
        ProfileStore,
        Retriever,
    )
    from manyshores.runtime.base_model import BaseModel


def default_base(components: ComponentSource) -> BaseModel:
    from manyshores.runtime.base_model import load_base_model

    return load_base_model(components.settings.base_model, components.settings)


def default_detector(components: ComponentSource) -> Detector:
    from manyshores.detection.detector import CultureDetector

    return CultureDetector.from_settings(components.settings)


def default_retriever(components: ComponentSource) -> Retriever:
    from manyshores.memory.retriever import CulturalRetriever

    return CulturalRetriever.from_settings(components.settings)


def default_evidence(components: ComponentSource) -> EvidenceSource:
    from manyshores.evidence.index import EvidenceIndex

    return EvidenceIndex.load(components.settings)


def default_profiles(components: ComponentSource) -> ProfileStore:
    from manyshores.memory.profile import UserProfiles, open_settings_store

    # Next to the checkpoints (SQLite file or PostgreSQL), as `manyshores profile` reads it.
    return UserProfiles(open_settings_store(components.settings))


def default_experts(components: ComponentSource) -> ExpertBackend:
    from manyshores.components.expert_backend import CommitteeBackend

    return CommitteeBackend(components)
