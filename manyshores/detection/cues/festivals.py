"""Festival cues: holiday names per country from the `holidays` package, plus reviewed names.

`holidays` (MIT licence) lists each country's public, optional and religious holidays with their
names in the country's languages and in English. A name is kept in English and in the languages
the country's people speak (not its Thai or Ukrainian translations); modifiers such as
`(observed)` or `(estimated)` are dropped, a name in brackets is kept on its own (`New Year
(Enkutatash)`), and a trailing `Day`, `Holiday` or `Festival` is dropped when what remains is no
everyday or English word (`Songkran Festival` → `Songkran`). Holidays of a registered
sub-national culture's subdivision (`IN` `AS`: `Magh Bihu`) are its own, other subdivisions'
their country's. A name made only of everyday words of some language or of English words
(`Father's Day`, `Easter`, `Picnic Day`, `Año Nuevo`, `New Year`) names an observance kept far
beyond the countries listing it, and is left out unless the reviewed list keeps it
(`Thanksgiving`, `Mid-Autumn Festival`).

The reviewed list (`cues.json`, `festivals`) adds the names people use that the package lacks
(`Lebaran` for Idul Fitri in Indonesia, `Timkat`, `Day of the Dead`); `like` entries take their
countries from package holidays (`Eid` is celebrated where `Eid al-Fitr` or `Eid al-Adha` is).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from manyshores.cultures import CultureRegistry, base_language
from manyshores.detection.cues.words import OrdinaryWords, tokens

YEARS = range(2024, 2027)
"""Years whose holidays are read: moving feasts and holidays added or dropped recently."""

_GENERIC_TAIL = ("day", "holiday", "holidays", "festival", "festival day")
"""English words dropped from the end of a holiday name when the rest is a name of its own."""

_BRACKETS = re.compile(r"\s*\(([^()]*)\)")
_MODIFIERS = re.compile(
    r"observed|estimated|in lieu|substitute|from \d|until|afternoon|morning|evening|half day"
    r"|estimé|observé|müşahidə|(?:^|\s)de facto",
    re.IGNORECASE,
)
"""Bracketed words that qualify a date, not a name (in the languages the package writes)."""

LOCAL_SHARED_MAX = 3
"""A holiday of one subdivision counts for its country unless this many countries keep it
nationally."""

_SHARED_BRACKET_MIN = 4
"""A bracketed text found in this many countries' names is a modifier (`(observed)` in any
language), never a festival's own name."""


def _clean(name: str) -> tuple[str, list[str]]:
    """(the name without brackets, the bracketed texts)."""
    inner = [m.group(1).strip() for m in _BRACKETS.finditer(name)]
    return _BRACKETS.sub("", name).strip(), [x for x in inner if x]


def _usable(name: str) -> bool:
    # Dates and counted days (`Day off (substituted from 01/07/2024)`) are no names anyone uses.
    return bool(name) and not any(ch.isdigit() for ch in name) and len(name) <= 60


def holiday_names(registry: CultureRegistry) -> dict[str, set[str]]:
    """Holiday name → culture ids, from the `holidays` package (names as the package writes
    them, in the culture's own languages and in English)."""
    import holidays

    from manyshores.detection.cues.reviewed import reviewed

    localized = holidays.list_localized_countries()
    by_alpha2 = {c.alpha2: c for c in registry.all() if c.kind == "country"}
    region_of = {
        (c.alpha2, spec["holidays_subdivision"]): c.id
        for c in registry.all()
        if c.kind == "region"
        for spec in [reviewed().regions.get(c.id, {})]
        if spec.get("holidays_subdivision")
    }
    raw: dict[str, set[str]] = {}
    local: dict[str, set[str]] = {}
    brackets: dict[str, set[str]] = {}

    def take(name: str, culture: str, into: dict[str, set[str]]) -> None:
        for part in re.split(r";\s*|\s+/\s+", name):
            base, inner = _clean(part.strip())
            if _usable(base):
                into.setdefault(base, set()).add(culture)
            for text in inner:
                brackets.setdefault(text, set()).add(culture)

    for code in holidays.list_supported_countries():
        culture = by_alpha2.get(code) if len(code) == 2 else None
        if culture is None:
            continue
        base = holidays.country_holidays(code)
        own = {"en", *culture.languages}
        # None: the country's default language.
        langs: list[str | None] = [
            lang for lang in localized.get(code) or [] if base_language(lang) in own
        ] or [None]
        categories = base.supported_categories
        national: dict[str | None, set[str]] = {}
        for lang in langs:
            national[lang] = set(_names(code, lang, categories, None))
            for name in national[lang]:
                take(name, culture.id, raw)
        for subdivision in base.subdivisions:
            region = region_of.get((code, subdivision))
            # Other subdivisions' holidays are the country's (`Onam` in Kerala is Indian), read
            # in its default language only: the whole table again per language costs seconds.
            for lang in langs if region else [None]:
                known = national.get(lang, set())
                for name in _names(code, lang, categories, subdivision):
                    if name not in known:
                        take(name, region or culture.id, raw if region else local)
    for name, cultures in local.items():
        # A subdivision's own festival is the country's (`Onam`), but one that whole other
        # countries keep is theirs (`Eid al-Fitr` in Ceuta does not make it Spanish).
        if len(raw.get(name, ())) < LOCAL_SHARED_MAX:
            raw.setdefault(name, set()).update(cultures)
    for text, cultures in brackets.items():
        # `(observed)`, `(estimé)`: qualifiers repeated across countries; a festival's own
        # name in brackets (`Enkutatash`, `Timket`) belongs to one or two.
        if len(cultures) < _SHARED_BRACKET_MIN and _usable(text) and not _MODIFIERS.search(text):
            raw.setdefault(text, set()).update(cultures)
    return raw


def _names(code: str, lang: str | None, categories: Any, subdivision: str | None) -> Iterator[str]:
    import holidays

    try:
        table = holidays.country_holidays(
            code, subdiv=subdivision, years=YEARS, language=lang, categories=categories
        )
    except Exception:  # a language or category the country's table cannot give
        return iter(())
    return iter(set(table.values()))


def core_name(name: str, words: OrdinaryWords) -> str | None:
    """The name without a trailing `Day`/`Holiday`/`Festival` when the rest is no everyday or
    English word (`Songkran`, `Meskel`), else None (`Independence`, `Picnic`)."""
    low = name.lower()
    for tail in sorted(_GENERIC_TAIL, key=len, reverse=True):
        if low.endswith(" " + tail):
            core = name[: -len(tail) - 1].strip(" -'")
            if core and not _everyday(core, words) and len(tokens(core)) <= 3:
                return core
    return None


def _everyday(name: str, words: OrdinaryWords) -> bool:
    """Made only of everyday words of some language, or only of English words: an observance
    (`Father's Day`, `Picnic Day`) or a word (`Picnic`), not one festival's name."""
    return bool(words.languages(name)) or words.english_vocabulary(name)


def festival_cues(registry: CultureRegistry, words: OrdinaryWords) -> dict[str, set[str]]:
    """Festival name → culture ids: the package's names, their cores, the reviewed names."""
    from manyshores.detection.cues.reviewed import reviewed

    names = holiday_names(registry)
    out: dict[str, set[str]] = {}
    for name, cultures in names.items():
        if _everyday(name, words):
            # `Father's Day`, `Easter`, `Año Nuevo`, `New Year`: everyday words naming an
            # observance kept far beyond the countries whose public holiday it is (the reviewed
            # list keeps the few that name one festival: `Thanksgiving`, `Mid-Autumn Festival`).
            continue
        out.setdefault(name, set()).update(cultures)
        core = core_name(name, words)
        if core:
            out.setdefault(core, set()).update(cultures)
    for name, spec in reviewed().festivals.items():
        if isinstance(spec, dict):
            found: set[str] = set()
            for other in spec.get("like", []):
                found |= names.get(other, set())
            if found:
                out.setdefault(name, set()).update(found)
        else:
            out.setdefault(name, set()).update(c for c in spec if c in registry)
    return out
