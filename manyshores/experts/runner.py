"""Generating with the base model or one LoRA task adapter, one prompt or a batch at a time.

    runner = AdapterRunner(base, ExpertRegistry.from_settings(settings, base))
    runner.generate("MEX.everyday_qa.lora", messages)
    runner.generate_batch(None, [messages, ...])      # None: the bare base model

Batches go through `generation.generate_batch` (left-padded, greedy): the answers one-by-one calls
would give, several times faster on CPU — what makes a full BLEnD evaluation affordable. LoRA runs
on the registry's one PEFT copy of the base (`ExpertRegistry.lora_host()`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from manyshores.runtime.generation import generate_batch, generate_text

if TYPE_CHECKING:
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.runtime.base_model import BaseModel


@dataclass
class AdapterRunner:
    """Generates with the base model or with one LoRA expert from the registry."""

    base: BaseModel
    """The shared base model (untouched; LoRA runs on the host's copy)."""
    registry: ExpertRegistry
    """Where experts are found and loaded (and the PEFT copy they run on)."""

    def _model(self, expert_id: str | None) -> Any:
        if expert_id is None:
            return self.base.model
        return self.registry.lora_host().activate(self.registry.get(expert_id))

    def generate(
        self,
        expert_id: str | None,
        messages: list[dict[str, str]],
        max_new_tokens: int = 24,
        counts: list[int] | None = None,
    ) -> str:
        """The answer of `expert_id` (None: the bare base model; `counts`: see `stream_text`)."""
        model = self._model(expert_id)
        return generate_text(
            replace(self.base, model=model), messages, max_new_tokens, counts=counts
        )

    def generate_batch(
        self,
        expert_id: str | None,
        batch: list[list[dict[str, str]]],
        max_new_tokens: int = 24,
    ) -> list[str]:
        """Answers of `expert_id` to several chats in one left-padded greedy pass."""
        texts = generate_batch(self.base, batch, max_new_tokens, model=self._model(expert_id))
        return [t.strip() for t in texts]
