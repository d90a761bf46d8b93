"""LoRA experts: low-rank adapters, batched in a committee with PEFT mixed adapter batches."""

from manyshores.experts.lora.config import LoraExpertConfig
from manyshores.experts.lora.model import LoraExpert

__all__ = ["LoraExpertConfig", "LoraExpert"]
