"""Soft-prompt experts: trained virtual-token embeddings placed just before the answer slot."""

from manyshores.experts.softprompt.config import SoftPromptConfig
from manyshores.experts.softprompt.model import SoftPromptExpert

__all__ = ["SoftPromptConfig", "SoftPromptExpert"]
