"""The offline embedder loads from the package and embeds meaningfully."""

from __future__ import annotations

import math

from manyshores.memory.embeddings import EMBEDDING_DIM, embed


def test_embeddings_are_normalised_and_semantic():
    a, b, c = embed(
        [
            "What do Kenyans eat for breakfast?",
            "Typical Kenyan morning meal",
            "The stock market fell sharply today.",
        ]
    )
    assert len(a) == EMBEDDING_DIM
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    sim = lambda u, v: sum(x * y for x, y in zip(u, v))  # noqa: E731
    assert sim(a, b) > sim(a, c) + 0.2


def test_the_lean_encoder_gives_sentence_transformers_vectors():
    """`memory/minilm.py` replaces sentence-transformers for speed: same vectors, same order,
    across lengths that pad, truncate (past 256 tokens) and include non-Latin scripts."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from manyshores.memory.embeddings import embedder_path
    from manyshores.memory.minilm import MiniLMEncoder

    texts = [
        "What do families in Kenya usually eat for breakfast?",
        "hi",
        "¿Qué comen los niños en México? 你好 こんにちは",
        "word " * 400,
        "",
    ]
    lean = MiniLMEncoder(embedder_path(), batch_size=2).encode(texts)
    reference = SentenceTransformer(embedder_path(), device="cpu").encode(
        texts, normalize_embeddings=True, convert_to_numpy=True
    )
    assert lean.shape == reference.shape == (len(texts), EMBEDDING_DIM)
    assert np.abs(lean - reference).max() < 1e-5


def test_the_lean_encoder_refuses_a_model_it_does_not_compute(tmp_path):
    import json
    import shutil

    import pytest

    from manyshores.memory.embeddings import embedder_path
    from manyshores.memory.minilm import MiniLMEncoder

    copy = tmp_path / "model"
    shutil.copytree(embedder_path(), copy)
    (copy / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    with pytest.raises(ValueError, match="mean-pooled"):
        MiniLMEncoder(copy)
