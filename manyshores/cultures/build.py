"""Building the cultures: one per ISO 3166-1 country (pycountry, CLDR via babel) and one per
curated sub-national region, from the facts in `curated.json` that CLDR lacks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from manyshores.cultures.culture import (
    Culture,
    _add,
    _load_json,
    _main_languages,
    _split,
    _territory_name,
    base_language,
)


@dataclass(frozen=True)
class Curated:
    """The curated table (`curated.json`), with its lists turned into lookups by country."""

    table: dict[str, Any]
    """The file as read: aliases, demonyms, zones, regions, sub-national cultures."""
    subregion_of: dict[str, str]
    """Alpha-2 → UN M49 sub-region (the first listed when a code appears twice)."""
    continent_of: dict[str, str]
    """UN M49 sub-region → its region (continent)."""
    zone_override: dict[str, str]
    """Alpha-2 → Inglehart–Welzel zone, where it differs from its sub-region's."""

    @classmethod
    def load(cls) -> Curated:
        table = _load_json("curated.json")
        subregion_of: dict[str, str] = {}
        for sub, codes in table["subregions"].items():
            for code in codes.split():
                subregion_of.setdefault(code, sub)
        return cls(
            table=table,
            subregion_of=subregion_of,
            continent_of={s: c for c, subs in table["continents"].items() for s in subs},
            zone_override={
                code: zone
                for zone, codes in table["zone_overrides"].items()
                for code in codes.split()
            },
        )

    def zone(self, alpha2: str) -> str:
        """The country's cultural zone: its own override, else its sub-region's."""
        sub = self.subregion_of.get(alpha2, "")
        return self.zone_override.get(alpha2) or self.table["zone_by_subregion"].get(sub, "Oceania")


def country_names(
    country: Any, langs: dict[str, float], aliases: dict[str, Any]
) -> dict[str, list[str]]:
    """Language → the country's names: CLDR's in English and its main languages, pycountry's
    English names, then the curated aliases."""
    a2 = country.alpha_2
    names: dict[str, list[str]] = {}
    for lang in ["en", *langs]:
        local = _territory_name(lang, a2)
        if local:
            _add(names, lang, local)
    _add(names, "en", country.name)
    if getattr(country, "common_name", None):
        _add(names, "en", country.common_name)
    if getattr(country, "official_name", None):
        _add(names, "en", country.official_name)
    for lang, extra in aliases.get(a2, {}).items():
        for name in extra:
            _add(names, lang, name)
    return names


def country_demonyms(alpha2: str, curated: Curated) -> dict[str, list[str]]:
    """Language → demonyms: the curated English ones, then the local ones."""
    demonyms: dict[str, list[str]] = {}
    if alpha2 in curated.table["demonyms_en"]:
        demonyms["en"] = _split(curated.table["demonyms_en"][alpha2])
    for lang, extra in curated.table["local_demonyms"].get(alpha2, {}).items():
        for d in extra:
            _add(demonyms, lang, d)
    return demonyms


def build_country(
    country: Any, curated: Curated, territory_languages: dict[str, dict[str, dict[str, Any]]]
) -> Culture:
    """One pycountry country as a culture (id: its alpha-3)."""
    a2 = country.alpha_2
    langs = _main_languages(territory_languages.get(a2, {}))
    sub = curated.subregion_of.get(a2, "")
    en_name: str = (
        _territory_name("en", a2) or getattr(country, "common_name", None) or country.name
    )
    return Culture(
        id=country.alpha_3,
        alpha2=a2,
        name=en_name,
        kind="country",
        parent=None,
        languages=langs,
        names=country_names(country, langs, curated.table["aliases"]),
        demonyms=country_demonyms(a2, curated),
        zone=curated.zone(a2),
        region=sub,
        continent=curated.continent_of.get(sub, ""),
    )


def build_countries(curated: Curated) -> Iterator[Culture]:
    """Every ISO 3166-1 country, in pycountry's order."""
    import pycountry
    from babel.core import get_global

    territory_languages: dict[str, dict[str, dict[str, Any]]] = dict(
        get_global("territory_languages")
    )
    for country in pycountry.countries:
        yield build_country(country, curated, territory_languages)


def build_region(code: str, spec: dict[str, Any], parent: Culture) -> Culture:
    """A curated sub-national culture (id: its ISO 3166-2 code); what its entry leaves out
    (zone) comes from its country, as do its sub-region and continent."""
    langs = {base_language(k): v / 100.0 for k, v in spec["languages"].items()}
    return Culture(
        id=code,
        alpha2=code.split("-")[0],
        name=spec["names"]["en"][0],
        kind="region",
        parent=parent.id,
        languages=dict(sorted(langs.items(), key=lambda kv: -kv[1])),
        names={lang: list(v) for lang, v in spec["names"].items()},
        demonyms={lang: list(v) for lang, v in spec.get("demonyms", {}).items()},
        zone=spec.get("zone", parent.zone),
        region=parent.region,
        continent=parent.continent,
    )
