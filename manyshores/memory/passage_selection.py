"""What a knowledge-base query searches and what it keeps.

Which cultures are searched, with what weight (`culture_weights`, from the posterior); the text
a query is embedded from (`query_text`: the searched cultures' names taken out); and which of
the candidates found are returned (`select_passages`: near-duplicates dropped, question-specific
passages and topic digests each given their share of the k places).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

from manyshores.memory.digests import DIGEST_KINDS
from manyshores.memory.ingest import strip_place
from manyshores.passages import Passage

SEARCH_MIN_CULTURE_P = 0.05
"""Cultures below this posterior are not searched: they would only add noise and latency."""
SEARCH_MAX_CULTURES = 5
"""At most this many cultures are searched (the most probable ones)."""
NEAR_DUPLICATE_JACCARD = 0.8
"""Two passages sharing this much of their character 4-grams say the same thing; only the
better-scored one is kept. (Text shingles rather than vectors: fetching the stored vectors with
every query costs more than the whole comparison.)"""
SPECIFIC_SLOTS = 1
"""Of the k passages, this many go to the best question-specific passages; topic digests
(which carry the answers of a dozen related questions each) fill the rest. A specific
passage answers the closest question precisely; the digests cover what it misses."""


def culture_weights(cultures: Mapping[str, float] | None) -> dict[str, float]:
    """Posterior → weights in (0, 1] relative to the most likely culture (sqrt-damped).

    sqrt keeps a second culture at p=0.3 next to one at 0.7 visible (weight 0.65) instead of
    burying it (0.43): passages about a plausible culture are still useful context.
    """
    if not cultures:
        return {}
    kept = sorted(
        ((c, p) for c, p in cultures.items() if p >= SEARCH_MIN_CULTURE_P), key=lambda x: -x[1]
    )
    kept = kept[:SEARCH_MAX_CULTURES]
    if not kept:
        return {}
    top = kept[0][1]
    return {c: math.sqrt(p / top) for c, p in kept}


def query_text(text: str, cultures: Mapping[str, float] | None) -> str:
    """The text a query is embedded from: `text` without the English names of the cultures it
    is restricted to (`culture_weights`); unchanged for an unfiltered query."""
    names: list[str] = []
    for culture in culture_weights(cultures):
        names += _english_names(culture)
    if not names:
        return text
    stripped = strip_place(text, sorted(set(names), key=len, reverse=True))
    return stripped or text


@functools.lru_cache(maxsize=512)
def _english_names(culture: str) -> list[str]:
    try:
        from manyshores.cultures import get_registry

        return list(get_registry().get(culture).names.get("en", []))
    except Exception:  # an id the registry does not know: nothing to strip
        return []


def select_passages(candidates: list[Passage], k: int) -> list[Passage]:
    """The k passages of a query from candidates sorted by score: near-duplicates dropped, the
    best SPECIFIC_SLOTS question-specific passages, then the best topic digests (whichever kind
    runs short, the other fills in), returned best score first."""
    specific = _drop_near_duplicates([p for p in candidates if p.kind not in DIGEST_KINDS], k)
    digests = _drop_near_duplicates([p for p in candidates if p.kind in DIGEST_KINDS], k)
    n_specific = max(min(SPECIFIC_SLOTS, k), k - len(digests))
    chosen = (specific[:n_specific] + digests)[:k] if digests else specific[:k]
    return sorted(chosen, key=lambda p: -p.score)


def _shingles(text: str, n: int = 4) -> set[str]:
    norm = " ".join(text.lower().split())
    return {norm[i : i + n] for i in range(max(len(norm) - n + 1, 1))}


def _drop_near_duplicates(candidates: list[Passage], k: int) -> list[Passage]:
    kept: list[Passage] = []
    kept_shingles: list[set[str]] = []
    for passage in candidates:
        if any(passage.id == p.id for p in kept):
            continue
        sh = _shingles(passage.text)
        if any(len(sh & o) / max(len(sh | o), 1) >= NEAR_DUPLICATE_JACCARD for o in kept_shingles):
            continue
        kept.append(passage)
        kept_shingles.append(sh)
        if len(kept) >= k:
            break
    return kept
