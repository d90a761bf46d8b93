"""Model work with no expert concept: loading the base model, option scoring, generation on
transformers, llama.cpp or any LangChain chat model, and the vLLM server's client."""
