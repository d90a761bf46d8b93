"""Culture experts over the one base model: kinds (soft prompt, LoRA, persona), the store and
registry, routing, the committee, combining answers, task adapters, training, and vLLM."""
