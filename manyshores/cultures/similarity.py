"""How alike two cultures are: zone, language, region and, where both have it, survey answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

from manyshores.cultures.culture import Culture, _load_json

_NEIGHBOUR_ZONES = {
    frozenset(pair)
    for pair in (
        ("Catholic Europe", "Latin America"),
        ("Catholic Europe", "Protestant Europe"),
        ("Catholic Europe", "Orthodox Europe"),
        ("Catholic Europe", "Baltic"),
        ("Protestant Europe", "English-speaking"),
        ("Orthodox Europe", "Baltic"),
        ("Confucian", "Baltic"),
        ("African-Islamic", "West & South Asia"),
        ("Latin America", "West & South Asia"),
    )
}
"""Zones that sit next to each other on the Inglehart–Welzel map (half similarity)."""

# Weights of the similarity components before survey refinement. Checked against WVS: over the
# 120 pairs of the 16 WVS countries this profile similarity has Spearman 0.40 with survey
# similarity (0.36 with equal-ish weights 0.4/0.3/0.3); the zone carries most of it, language
# overlap (inflated by second languages such as English) the least.
_W_ZONE, _W_LANGUAGE, _W_REGION = 0.6, 0.1, 0.3
_W_SURVEY = 0.5
"""Share of the final similarity taken by survey similarity when both cultures have survey data."""


def profile_similarity(ca: Culture, cb: Culture) -> float:
    """Zone, language overlap and region of two distinct cultures, before survey refinement."""
    if ca.zone == cb.zone:
        zone = 1.0
    else:
        zone = 0.5 if frozenset((ca.zone, cb.zone)) in _NEIGHBOUR_ZONES else 0.0
    lang = _language_overlap(ca.languages, cb.languages)
    if ca.region and ca.region == cb.region:
        region = 1.0
    elif ca.continent and ca.continent == cb.continent:
        region = 0.5
    else:
        region = 0.0
    return _W_ZONE * zone + _W_LANGUAGE * lang + _W_REGION * region


def with_survey(profile: float, survey: float | None) -> float:
    """`profile` similarity refined by survey similarity when both cultures have survey data."""
    return profile if survey is None else (1 - _W_SURVEY) * profile + _W_SURVEY * survey


def _language_overlap(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine similarity of two language-share vectors."""
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def survey_similarity_from_wvs(path: Path) -> dict[str, dict[str, float]]:
    """Pairwise survey similarity from WVS answer shares (`{country: {question: shares}}`).

    Per pair: mean over shared questions of 1 − Jensen–Shannon divergence (base 2), then
    min–max rescaled over all pairs so the least similar pair gets 0 and the most similar 1.
    """
    data: dict[str, dict[str, list[float]]] = json.loads(Path(path).read_text(encoding="utf-8"))
    ids = sorted(data)
    raw: dict[tuple[str, str], float] = {}
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            common = set(data[a]) & set(data[b])
            if not common:
                continue
            raw[(a, b)] = sum(1 - _jsd(data[a][q], data[b][q]) for q in common) / len(common)
    lo, hi = min(raw.values()), max(raw.values())
    out: dict[str, dict[str, float]] = {x: {} for x in ids}
    for (a, b), v in raw.items():
        scaled = (v - lo) / (hi - lo) if hi > lo else 1.0
        out[a][b] = out[b][a] = round(scaled, 4)
    return out


def _jsd(p: list[float], q: list[float]) -> float:
    m = [(x + y) / 2 for x, y in zip(p, q, strict=False)]

    def kl(x: list[float]) -> float:
        return sum(a * math.log2(a / b) for a, b in zip(x, m, strict=False) if a > 0 and b > 0)

    return 0.5 * kl(p) + 0.5 * kl(q)


def _default_survey() -> dict[str, dict[str, float]]:
    try:
        data: dict[str, dict[str, float]] = _load_json("survey_similarity.json")["similarity"]
    except FileNotFoundError:
        return {}
    return data
