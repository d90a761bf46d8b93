"""Generating with the base model or one LoRA task adapter, one prompt or a batch at a time.

    runner = AdapterRunner(base, ExpertRegistry.from_settings(settings, base))
    runner.generate("MEX.everyday_qa.lora", messages)
    runner.generate_batch(None, [messages, ...])      # None: the bare base model

Batches are left-padded and decoded greedily, so a batch gives the answers one-by-one calls would
(up to float rounding) several times faster on CPU — what makes a full BLEnD evaluation affordable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from manyshores.experts.generation import chat_input_ids, generate_text
from manyshores.experts.lora.model import LoraHost, adapter_names

if TYPE_CHECKING:
    from manyshores.experts.base_model import BaseModel
    from manyshores.experts.registry import ExpertRegistry


@dataclass
class AdapterRunner:
    """Generates with the base model or with one LoRA expert from the registry."""

    base: BaseModel
    """The shared base model (untouched; LoRA runs on the host's copy)."""
    registry: ExpertRegistry
    """Where experts are found and loaded."""
    host: LoraHost | None = None
    """PEFT copy holding the loaded adapters (built on first use)."""

    def _model(self, expert_id: str | None) -> Any:
        if expert_id is None:
            return self.base.model
        expert = self.registry.get(expert_id)
        if self.host is None:
            self.host = LoraHost(self.base)
        model = self.host.ensure([expert])
        model.set_adapter(adapter_names([expert])[0])
        return model

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
        import torch

        if not batch:
            return []
        model = self._model(expert_id)
        tok: Any = self.base.tokenizer
        rows = [chat_input_ids(self.base, m, reserve=max_new_tokens)[0] for m in batch]
        width = max(len(r) for r in rows)
        pad = int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :] = r.cpu()
            mask[i, width - len(r) :] = 1
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(self.base.device),
                attention_mask=mask.to(self.base.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
        texts = tok.batch_decode(out[:, width:], skip_special_tokens=True)
        return [str(t).strip() for t in texts]
