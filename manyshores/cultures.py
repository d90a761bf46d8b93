"""Culture registry: ids, names, demonyms, languages, cultural zones, regions and similarity.

Every ISO 3166-1 country (from ``pycountry``) is a culture, with id = alpha-3 (``KEN``); a few
sub-national cultures that matter (``IN-AS`` Assam, ``ID-JB`` West Java, ...) use ISO 3166-2 ids.

Where each fact comes from:

- names in English and in the culture's main languages: CLDR via ``babel``
  (``Locale(lang).territories``), plus a few curated aliases (``USA``, ``한국``, ...);
- main languages with population shares: CLDR territory data (``territory_languages``);
- demonyms, UN M49 sub-regions, Inglehart–Welzel cultural-map zones, major cities and the
  sub-national cultures: ``manyshores/data/cultures/curated.json`` (CLDR has none of these);
- survey similarity: WVS wave 7 answer shares (``manyshores/data/cultures/survey_similarity.json``,
  computed from ``shared/data/wvs/train.json`` by :func:`survey_similarity_from_wvs`).

Usage::

    from manyshores.cultures import get_registry
    reg = get_registry()
    reg.get("KOR").name               # 'South Korea'
    reg.normalize("kr")               # 'KOR'   (alpha-2, alpha-3, ISO 3166-2 or a name)
    reg.similarity("ESP", "MEX")      # float in [0, 1]
    reg.nearest("IN-AS", ["IND", "CHN", "USA"], k=2)   # [('IND', 0.9...), ...]
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from manyshores.errors import InvalidInputError

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
    cities: list[str] = field(default_factory=list)
    """Major cities and well-known sub-regions (any language)."""
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
    return Path(str(resources.files("manyshores") / "data" / "cultures"))


def _load_json(name: str) -> Any:
    return json.loads((_data_dir() / name).read_text(encoding="utf-8"))


def _split(entry: str) -> list[str]:
    return [x.strip() for x in entry.split("|") if x.strip()]


class CultureRegistry:
    """All cultures, looked up by id, alpha-2, ISO 3166-2 code or name (any CLDR language)."""

    def __init__(self, survey_similarity: dict[str, dict[str, float]] | None = None) -> None:
        self._cultures: dict[str, Culture] = {}
        self._aliases: dict[str, str] = {}
        self._sim_cache: dict[tuple[str, str], float] = {}
        self._survey = survey_similarity if survey_similarity is not None else _default_survey()
        self._build()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        import pycountry
        from babel.core import get_global

        curated = _load_json("curated.json")
        subregion_of: dict[str, str] = {}
        for sub, codes in curated["subregions"].items():
            for code in codes.split():
                subregion_of.setdefault(code, sub)
        continent_of = {s: c for c, subs in curated["continents"].items() for s in subs}
        zone_override = {
            code: zone
            for zone, codes in curated["zone_overrides"].items()
            for code in codes.split()
        }
        territory_languages: dict[str, dict[str, dict[str, Any]]] = dict(
            get_global("territory_languages")
        )
        aliases = curated["aliases"]
        local_demonyms = curated["local_demonyms"]
        cities = curated["cities"]

        for country in pycountry.countries:
            a2, a3 = country.alpha_2, country.alpha_3
            langs = _main_languages(territory_languages.get(a2, {}))
            sub = subregion_of.get(a2, "")
            names: dict[str, list[str]] = {}
            en_name: str = (
                _territory_name("en", a2) or getattr(country, "common_name", None) or country.name
            )
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
            demonyms: dict[str, list[str]] = {}
            if a2 in curated["demonyms_en"]:
                demonyms["en"] = _split(curated["demonyms_en"][a2])
            for lang, extra in local_demonyms.get(a2, {}).items():
                for d in extra:
                    _add(demonyms, lang, d)
            zone = zone_override.get(a2) or curated["zone_by_subregion"].get(sub, "Oceania")
            self._cultures[a3] = Culture(
                id=a3,
                alpha2=a2,
                name=en_name,
                kind="country",
                parent=None,
                languages=langs,
                names=names,
                demonyms=demonyms,
                cities=list(cities.get(a2, [])),
                zone=zone,
                region=sub,
                continent=continent_of.get(sub, ""),
            )
            self._aliases[a3.lower()] = a3
            self._aliases[a2.lower()] = a3

        for code, spec in curated["subnational"].items():
            a2 = code.split("-")[0]
            parent = self._cultures[self._aliases[a2.lower()]]
            langs = {base_language(k): v / 100.0 for k, v in spec["languages"].items()}
            names = {lang: list(v) for lang, v in spec["names"].items()}
            self._cultures[code] = Culture(
                id=code,
                alpha2=a2,
                name=spec["names"]["en"][0],
                kind="region",
                parent=parent.id,
                languages=dict(sorted(langs.items(), key=lambda kv: -kv[1])),
                names=names,
                demonyms={lang: list(v) for lang, v in spec.get("demonyms", {}).items()},
                cities=list(spec.get("cities", [])),
                zone=spec.get("zone", parent.zone),
                region=parent.region,
                continent=parent.continent,
            )
            self._aliases[code.lower()] = code

        # Names as aliases last, so codes win over names that look like codes.
        for culture in self._cultures.values():
            for lang_names in culture.names.values():
                for name in lang_names:
                    self._aliases.setdefault(name.casefold(), culture.id)

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self._cultures)

    def __contains__(self, culture_id: object) -> bool:
        return isinstance(culture_id, str) and culture_id in self._cultures

    def ids(self) -> list[str]:
        """Every culture id, countries first then regions, in registry order."""
        return list(self._cultures)

    def all(self) -> list[Culture]:
        return list(self._cultures.values())

    def is_known(self, culture_id: str) -> bool:
        """True when `culture_id` (or an alias of it) names a culture in the registry."""
        return self._resolve(culture_id) is not None

    def _resolve(self, value: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        v = value.strip()
        if v in self._cultures:
            return v
        found = self._aliases.get(v.casefold()) or self._aliases.get(v.replace("_", "-").casefold())
        if found is None:
            for names in self.names_any_language.values():
                ids = names.get(v)
                if ids and len(ids) == 1:
                    return next(iter(ids))
        return found

    def normalize(self, value: str) -> str:
        """The culture id for an id, alpha-2, ISO 3166-2 code or a name (any CLDR language).

        Raises :class:`InvalidInputError` when nothing matches.
        """
        found = self._resolve(value)
        if found is None:
            raise InvalidInputError(
                f"unknown culture {value!r}: use an ISO 3166-1 code (e.g. KEN or KE), a "
                f"registered ISO 3166-2 region ({', '.join(self.regions())}) or a country name"
            )
        return found

    def get(self, culture_id: str) -> Culture:
        """The culture for an id (or any alias `normalize` accepts)."""
        return self._cultures[self.normalize(culture_id)]

    def regions(self) -> list[str]:
        """Ids of the sub-national cultures."""
        return [c.id for c in self._cultures.values() if c.kind == "region"]

    def children(self, culture_id: str) -> list[str]:
        """Sub-national cultures of a country."""
        cid = self.normalize(culture_id)
        return [c.id for c in self._cultures.values() if c.parent == cid]

    # ------------------------------------------------------------------ similarity
    def survey_ids(self) -> list[str]:
        """Cultures with survey answers behind their similarity."""
        return sorted(self._survey)

    def _survey_key(self, culture_id: str) -> str | None:
        if culture_id in self._survey:
            return culture_id
        parent = self._cultures[culture_id].parent
        return parent if parent in self._survey else None

    def similarity(self, a: str, b: str) -> float:
        """Cultural similarity in [0, 1] (1 for the same culture).

        Zone (same Inglehart–Welzel zone), language (overlap of population shares) and region
        (same UN sub-region, else same continent) combine; when both cultures (or the countries
        of regions) have survey answers, survey similarity takes half the weight. A region and
        its own country get a bonus: they share most of their culture.
        """
        ia, ib = self.normalize(a), self.normalize(b)
        if ia == ib:
            return 1.0
        key = (ia, ib) if ia < ib else (ib, ia)
        cached = self._sim_cache.get(key)
        if cached is not None:
            return cached
        ca, cb = self._cultures[ia], self._cultures[ib]
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
        sim = _W_ZONE * zone + _W_LANGUAGE * lang + _W_REGION * region
        sa, sb = self._survey_key(ia), self._survey_key(ib)
        if sa and sb:
            survey = 1.0 if sa == sb else self._survey[sa].get(sb)
            if survey is not None:
                sim = (1 - _W_SURVEY) * sim + _W_SURVEY * survey
        if ca.parent == ib or cb.parent == ia:
            sim = 0.5 + 0.5 * sim
        # Two distinct cultures are never identical, however alike their profiles.
        sim = min(0.98, max(0.0, 0.98 * sim))
        self._sim_cache[key] = sim
        return sim

    def nearest(
        self, culture_id: str, among: list[str] | None = None, k: int = 3
    ) -> list[tuple[str, float]]:
        """The `k` cultures of `among` (default: all) most similar to `culture_id`, best first.

        `culture_id` itself is returned first with similarity 1.0 when it is in `among`.
        """
        cid = self.normalize(culture_id)
        pool = [self.normalize(x) for x in among] if among is not None else self.ids()
        scored = {other: self.similarity(cid, other) for other in dict.fromkeys(pool)}
        return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[: max(k, 0)]

    def not_places(self, names_only: bool = False) -> list[str]:
        """Expressions that contain a place name but are no mention of it (`한국어`), or with
        `names_only`, names that are mostly a common word (Arabic `مالي` Mali, `financial`)."""
        data: list[str] = _load_json("curated.json").get(
            "not_names" if names_only else "not_places", []
        )
        return data

    def curated_list(self, key: str) -> list[str]:
        """A list from the curated table (`cased_names`: names that are also common words and
        only count when capitalised, like `Turkey` and `Jordan`)."""
        data: list[str] = _load_json("curated.json").get(key, [])
        return data

    def registry_languages(self) -> list[str]:
        """Every main language of some culture, plus English."""
        langs = {"en"}
        for c in self._cultures.values():
            langs.update(c.languages)
            langs.update(c.names)
        return sorted(langs)

    @cached_property
    def names_any_language(self) -> dict[str, dict[str, set[str]]]:
        """Language -> {name: culture ids}: CLDR country names in every registry language, plus
        each culture's own names (regions, aliases). Used for mention detection."""
        table: dict[str, dict[str, set[str]]] = {}
        for lang in self.registry_languages():
            for c in self._cultures.values():
                if c.kind != "country":
                    continue
                name = _territory_name(lang, c.alpha2)
                if name:
                    table.setdefault(lang, {}).setdefault(name, set()).add(c.id)
        for c in self._cultures.values():
            for lang, names in c.names.items():
                for name in names:
                    table.setdefault(lang, {}).setdefault(name, set()).add(c.id)
        return table

    @cached_property
    def first_languages(self) -> dict[str, str]:
        """Culture id -> its most spoken language (cultures without language data left out)."""
        return {c.id: c.main_languages[0] for c in self._cultures.values() if c.languages}

    @cached_property
    def lingua_francas(self) -> frozenset[str]:
        """Languages many cultures list mostly as a second language (English, French, Russian):
        a message in one of them says little about where its writer is from."""
        listed: dict[str, int] = {}
        first: dict[str, int] = {}
        for c in self._cultures.values():
            for i, lang in enumerate(c.languages):
                listed[lang] = listed.get(lang, 0) + 1
                if i == 0:
                    first[lang] = first.get(lang, 0) + 1
        return frozenset(
            lang for lang, n in listed.items() if n >= 10 and first.get(lang, 0) < 0.5 * n
        )

    @cached_property
    def language_index(self) -> dict[str, dict[str, float]]:
        """Language -> {culture id: share of that culture's population speaking it}."""
        index: dict[str, dict[str, float]] = {}
        for c in self._cultures.values():
            for lang, share in c.languages.items():
                index.setdefault(lang, {})[c.id] = share
        return index


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


_lock = threading.Lock()
_registry: CultureRegistry | None = None


def get_registry() -> CultureRegistry:
    """The process-wide registry (built once, seconds: CLDR names for ~170 languages; the
    detector reads it back from the home directory's cache, see `detection.detector`)."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = CultureRegistry()
        return _registry


def registry_if_built() -> CultureRegistry | None:
    """The process-wide registry if something built or installed it already, else None."""
    with _lock:
        return _registry


def install_registry(registry: CultureRegistry) -> CultureRegistry:
    """Make `registry` the process-wide one unless one exists; returns the process-wide one."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = registry
        return _registry
