"""The kind registry (peft `tuners/` style): kind name -> config class + expert class.

Every kind lives in its own folder (`softprompt/`, `lora/`, `persona/`) with `config.py` (a
dataclass of hyperparameters) and `model.py` (the expert: built from a manifest and tensors,
and told which tensor shapes a valid expert of this kind has on a given base model).

`ExpertInfo` and `KindCapabilities` live in `types.py`, below both this registry and the kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from manyshores.errors import ExpertStoreError
from manyshores.experts.types import BASE_CAPABILITIES, ExpertInfo, KindCapabilities

if TYPE_CHECKING:
    import torch

    from manyshores.experts.store import ExpertManifest
    from manyshores.runtime.base_model import BaseModel


@dataclass
class KindSpec:
    """One registered kind."""

    name: str
    """Kind name used in manifests and on the command line."""
    config_cls: type
    """Dataclass of its hyperparameters."""
    expert_cls: Any
    """Expert class with `from_tensors(info, manifest, tensors)`, `expected_shapes(base, hp)` and
    `capabilities` (a `KindCapabilities`)."""

    @property
    def capabilities(self) -> KindCapabilities:
        caps: KindCapabilities = self.expert_cls.capabilities
        return caps


def _kinds() -> dict[str, KindSpec]:
    from manyshores.experts.lora.config import LoraExpertConfig
    from manyshores.experts.lora.model import LoraExpert
    from manyshores.experts.persona.config import PersonaConfig
    from manyshores.experts.persona.model import PersonaExpert
    from manyshores.experts.softprompt.config import SoftPromptConfig
    from manyshores.experts.softprompt.model import SoftPromptExpert

    return {
        "softprompt": KindSpec("softprompt", SoftPromptConfig, SoftPromptExpert),
        "lora": KindSpec("lora", LoraExpertConfig, LoraExpert),
        "persona": KindSpec("persona", PersonaConfig, PersonaExpert),
    }


def kind_names() -> list[str]:
    """Every registered kind, sorted."""
    return sorted(_kinds())


def capabilities(kind: str) -> KindCapabilities:
    """The capabilities of a kind name (`base` included)."""
    return BASE_CAPABILITIES if kind == "base" else get_kind(kind).capabilities


def get_kind(name: str) -> KindSpec:
    kinds = _kinds()
    if name not in kinds:
        raise ExpertStoreError(f"unknown expert kind {name!r}; known: {', '.join(sorted(kinds))}")
    return kinds[name]


def build_expert(
    base: BaseModel, info: ExpertInfo, manifest: ExpertManifest, tensors: dict[str, torch.Tensor]
) -> Any:
    """Instantiate an expert after checking its tensor shapes against the base model."""
    spec = get_kind(manifest.kind)
    expected = spec.expert_cls.expected_shapes(base, manifest.hyperparameters)
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    if expected is not None and shapes != expected:
        raise ExpertStoreError(
            f"expert {manifest.id!r} has tensors {shapes}, expected {expected} on this base model"
        )
    return spec.expert_cls.from_tensors(info, manifest, tensors)
