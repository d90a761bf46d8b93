"""Cultural memory: embeddings, the Chroma knowledge base, checkpoints and user profiles."""
