"""Base model loading, culture experts (soft prompt, LoRA, persona), option scoring and training."""
