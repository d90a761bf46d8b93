"""The experts' work on a vLLM server: the engine, the server's life cycle, LoRA adapters."""
