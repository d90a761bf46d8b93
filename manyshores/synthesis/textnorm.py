"""Answer normalisation (moved to the ground floor, `manyshores.textnorm`; kept importable here)."""

from __future__ import annotations

from manyshores.textnorm import (
    ARTICLES,
    STOPWORDS,
    contains_phrase,
    content_tokens,
    coverage,
    normalize_answer,
    stem,
    strip_accents,
    tokens,
)

__all__ = [
    "ARTICLES",
    "STOPWORDS",
    "contains_phrase",
    "content_tokens",
    "coverage",
    "normalize_answer",
    "stem",
    "strip_accents",
    "tokens",
]
