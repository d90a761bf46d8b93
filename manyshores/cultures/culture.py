"""One culture and the facts it is built from: ISO names, CLDR languages and names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from manyshores.paths import PACKAGE_CULTURES

ZONES = (
    "African-Islamic",
    "Baltic",
    "Catholic Europe",
    "Confucian",
    "English-speaking",
    "Latin America",
    "Orthodox Europe",
    "Protestant Europe",
    "West & South Asia",
    "Oceania",
)
"""Inglehart–Welzel cultural-map zones (`Oceania` covers the Pacific islands the map leaves out)."""

# Arabic varieties CLDR lists separately but language identifiers report as `ar`.
_LANGUAGE_MACRO = {
    "arq": "ar", "ary": "ar", "arz": "ar", "apc": "ar", "acm": "ar", "ajp": "ar", "afb": "ar",
    "ayl": "ar", "aeb": "ar", "apd": "ar", "shu": "ar", "ars": "ar", "acw": "ar", "abv": "ar",
    "prs": "fa", "pes": "fa", "cmn": "zh", "nb": "no", "nn": "no", "fil": "tl",
}  # fmt: skip

MIN_LANGUAGE_SHARE = 0.05
"""A language is one of a culture's main languages when CLDR gives it at least this share (or
official status)."""

MAX_MAIN_LANGUAGES = 4


def iso_name(culture: str) -> str:
    """English ISO name of a culture id (`DZA` → `Algeria`, `IN-AS` → `Assam`), or the id.

    pycountry's common name, as search queries and knowledge-base passages spell it.
    """
    try:
        import pycountry

        if "-" in culture:
            sub = pycountry.subdivisions.get(code=culture)
            return str(sub.name) if sub else culture
        country = pycountry.countries.get(alpha_3=culture) or pycountry.countries.get(
            alpha_2=culture
        )
        if country is None:
            return culture
        return str(getattr(country, "common_name", None) or country.name)
    except Exception:
        return culture


def base_language(code: str) -> str:
    """`ha_Arab` -> `ha`, `arq` -> `ar`: the code a language identifier would report."""
    lang = code.replace("-", "_").split("_")[0].lower()
    return _LANGUAGE_MACRO.get(lang, lang)


@dataclass(frozen=True)
class Culture:
    """One culture: a country (ISO 3166-1) or a sub-national region (ISO 3166-2)."""

    id: str
    """Alpha-3 for countries (`KOR`), ISO 3166-2 for regions (`IN-AS`)."""
    alpha2: str
    """ISO 3166-1 alpha-2 of the country (the parent country for regions)."""
    name: str
    """English name (CLDR's short form, e.g. `South Korea`)."""
    kind: Literal["country", "region"]
    """`country` or `region` (sub-national)."""
    parent: str | None
    """For regions, the id of the country it belongs to."""
    languages: dict[str, float]
    """Main languages (base codes, e.g. `es`) -> share of the population (0..1), descending."""
    names: dict[str, list[str]]
    """Language -> names of the culture in that language (English under `en`)."""
    demonyms: dict[str, list[str]]
    """Language -> demonyms (`Mexican`, `mexicano`, ...)."""
    zone: str = "Oceania"
    """Inglehart–Welzel cultural zone, one of :data:`ZONES`."""
    region: str = ""
    """UN M49 sub-region (`Eastern Asia`)."""
    continent: str = ""
    """UN M49 region (`Asia`)."""

    @property
    def main_languages(self) -> list[str]:
        """Language codes, most spoken first."""
        return list(self.languages)

    def language_share(self, lang: str) -> float:
        """Share of the population speaking `lang` (0 when not a main language)."""
        return self.languages.get(base_language(lang), 0.0)


def _data_dir() -> Path:
    return PACKAGE_CULTURES


def _load_json(name: str) -> Any:
    return json.loads((_data_dir() / name).read_text(encoding="utf-8"))


def _split(entry: str) -> list[str]:
    return [x.strip() for x in entry.split("|") if x.strip()]


def _add(table: dict[str, list[str]], lang: str, name: str) -> None:
    names = table.setdefault(base_language(lang), [])
    if name and name not in names:
        names.append(name)


_locale_territories: dict[str, dict[str, str] | None] = {}


def _territory_name(lang: str, alpha2: str) -> str | None:
    if lang not in _locale_territories:
        from babel import Locale

        try:
            _locale_territories[lang] = dict(Locale.parse(lang).territories)
        except Exception:  # babel has no locale for many minority languages
            _locale_territories[lang] = None
    table = _locale_territories[lang]
    return table.get(alpha2) if table else None


def _main_languages(raw: dict[str, dict[str, Any]]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for code, info in raw.items():
        share = float(info.get("population_percent") or 0.0) / 100.0
        official = info.get("official_status") in ("official", "de_facto_official")
        if share < MIN_LANGUAGE_SHARE and not official:
            continue
        base = base_language(code)
        shares[base] = max(shares.get(base, 0.0), min(share, 1.0))
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])[:MAX_MAIN_LANGUAGES]
    return dict(ranked)
