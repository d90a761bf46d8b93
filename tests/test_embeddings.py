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
