"""A soft-prompt expert: `prompt` [num_virtual_tokens, hidden] appended after the shared prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from manyshores.experts.types import KindCapabilities

if TYPE_CHECKING:
    import torch

    from manyshores.experts.store import ExpertManifest
    from manyshores.experts.types import ExpertInfo
    from manyshores.runtime.base_model import BaseModel


@dataclass
class SoftPromptExpert:
    """Virtual tokens trained for one culture (or jointly, with the culture named)."""

    info: ExpertInfo
    """Registry entry."""
    prompt: torch.Tensor
    """[num_virtual_tokens, hidden] embeddings."""
    suffix: str = ""
    """Text appended after the virtual tokens (the joint expert names the culture here)."""

    kind = "softprompt"
    capabilities = KindCapabilities(
        shares_prefix=True,
        mixed_batch=True,
        trainer="manyshores.experts.softprompt.train:train_expert_prompt",
    )

    @staticmethod
    def expected_shapes(base: BaseModel, hp: dict[str, Any]) -> dict[str, list[int]]:
        from manyshores.runtime.scoring import hidden_size

        return {"prompt": [int(hp.get("num_virtual_tokens", 8)), hidden_size(base)]}

    @classmethod
    def from_tensors(
        cls, info: ExpertInfo, manifest: ExpertManifest, tensors: dict[str, torch.Tensor]
    ) -> SoftPromptExpert:
        return cls(
            info=info,
            prompt=tensors["prompt"],
            suffix=str(manifest.hyperparameters.get("suffix", "")),
        )

    def embeddings(self, base: BaseModel, culture_name: str | None = None) -> torch.Tensor:
        """The rows this expert appends after the prefix (virtual tokens, then any suffix text)."""
        import torch

        prompt = self.prompt.to(base.device, base.model.dtype)
        if not self.suffix:
            return prompt
        text = self.suffix.format(culture=culture_name or self.info.culture)
        ids = base.tokenizer.encode(text, add_special_tokens=False)
        emb = base.model.get_input_embeddings()(torch.tensor(ids, device=base.device))
        return torch.cat([prompt, emb], dim=0)
