"""A persona expert: the culture named in the prompt (the `prompted` baseline of the papers).

It changes the prefix, so it cannot share the committee's KV cache; the committee runs it on its
own. `langchain_messages` gives the same persona for any LangChain chat model, so users of API
models get a committee without training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from manyshores.experts.persona.config import PersonaConfig
from manyshores.experts.types import KindCapabilities

if TYPE_CHECKING:
    import torch

    from manyshores.experts.store import ExpertManifest
    from manyshores.experts.types import ExpertInfo
    from manyshores.runtime.base_model import BaseModel


def culture_name(culture: str) -> str:
    try:
        from manyshores.cultures import get_registry

        return str(get_registry().get(culture).name)
    except Exception:  # unknown id or registry unavailable: the id still names it
        return culture


@dataclass
class PersonaExpert:
    """A culture named in the prompt."""

    info: ExpertInfo
    """Registry entry (`persona:<culture>`)."""

    config: PersonaConfig = field(default_factory=PersonaConfig)
    """The prompts naming the culture."""

    kind = "persona"
    # The culture is named in the prompt, so its prefix is its own: it runs alone.
    capabilities = KindCapabilities(shares_prefix=False, mixed_batch=False, stored=False)

    @staticmethod
    def expected_shapes(base: BaseModel, hp: dict[str, Any]) -> dict[str, list[int]]:
        return {}

    @classmethod
    def from_tensors(
        cls, info: ExpertInfo, manifest: ExpertManifest, tensors: dict[str, torch.Tensor]
    ) -> PersonaExpert:
        return cls(info=info)

    @property
    def name(self) -> str:
        return culture_name(self.info.culture)

    def instruction(self) -> str:
        """The line naming the culture after a survey question (`PersonaConfig.template`)."""
        return self.config.template.format(name=self.name)

    def system_prompt(self) -> str:
        """The system prompt of its free-text answers (`PersonaConfig.system_template`)."""
        return self.config.system_template.format(name=self.name)

    def langchain_messages(self, messages: list[dict[str, str]]) -> list[Any]:
        """The conversation with this persona as system message, for any LangChain chat model."""
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        out: list[Any] = [SystemMessage(self.system_prompt())]
        for m in messages:
            if m["role"] == "user":
                out.append(HumanMessage(m["content"]))
            elif m["role"] == "assistant":
                out.append(AIMessage(m["content"]))
        return out
