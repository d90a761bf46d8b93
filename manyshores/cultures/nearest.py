"""The cultures nearest a culture among those that have something (an expert, survey answers)."""

from __future__ import annotations

from manyshores.cultures.registry import get_registry

NEAREST_K = 3
"""Experts of the nearest cultures used for a culture without an expert."""


def culture_similarity(a: str, b: str) -> float:
    """The culture registry's similarity; 1 for equal ids, 0 when the registry cannot tell."""
    if a == b:
        return 1.0
    try:
        return float(get_registry().similarity(a, b))
    except Exception:  # an id the registry does not know: no evidence of similarity
        return 0.0


def nearest_cultures(culture: str, among: list[str], k: int = NEAREST_K) -> list[tuple[str, float]]:
    """The `k` cultures of `among` most similar to `culture`, with similarity weights."""
    scored = sorted(
        ((c, culture_similarity(culture, c)) for c in among if c != culture),
        key=lambda t: (-t[1], t[0]),
    )
    return [(c, s) for c, s in scored[:k] if s > 0] or scored[:1]
