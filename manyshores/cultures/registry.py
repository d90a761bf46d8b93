"""The culture registry: every culture looked up by id, code or name, and their similarity."""

from __future__ import annotations

import threading
from functools import cached_property

from manyshores.cultures.build import Curated, build_countries, build_region
from manyshores.cultures.culture import Culture, _load_json, _territory_name
from manyshores.cultures.similarity import _default_survey, profile_similarity, with_survey
from manyshores.errors import InvalidInputError


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
        curated = Curated.load()
        for culture in build_countries(curated):
            self._cultures[culture.id] = culture
            self._aliases[culture.id.lower()] = culture.id
            self._aliases[culture.alpha2.lower()] = culture.id
        for code, spec in curated.table["subnational"].items():
            parent = self._cultures[self._aliases[code.split("-")[0].lower()]]
            self._cultures[code] = build_region(code, spec, parent)
            self._aliases[code.lower()] = code
        self._alias_names()

    def _alias_names(self) -> None:
        """Every culture's names as aliases, last, so codes win over names that look like codes."""
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
        sim = profile_similarity(ca, cb)
        sa, sb = self._survey_key(ia), self._survey_key(ib)
        if sa and sb:
            sim = with_survey(sim, 1.0 if sa == sb else self._survey[sa].get(sb))
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
