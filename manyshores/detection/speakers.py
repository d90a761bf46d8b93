"""How many people speak a language in each culture: a prior among the cultures sharing it.

Speakers = the culture's population (GeoNames; census figures for the sub-national cultures)
times the share of it speaking the language (CLDR territory data via `babel`). A message whose
only cue is its language (German, English, Spanish, Arabic) then ranks the cultures sharing
the language by speakers (Germany before Austria before Liechtenstein), while the prior stays
small enough that none of them becomes likely from the language alone.
"""

from __future__ import annotations

import math
import threading

from manyshores.cultures import CultureRegistry


class SpeakerPrior:
    """log(speakers / most speakers) per language and culture, computed once per language."""

    def __init__(self, registry: CultureRegistry) -> None:
        self.registry = registry
        self._population: dict[str, int] | None = None
        self._by_language: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def population(self) -> dict[str, int]:
        """Culture id → people (see `cues.places.culture_populations`)."""
        with self._lock:
            if self._population is None:
                from manyshores.detection.cues.places import culture_populations

                self._population = culture_populations(self.registry)
            return self._population

    def speakers(self, lang: str) -> dict[str, float]:
        """Culture id → people speaking `lang` (cultures that list it as a main language)."""
        population = self.population()
        return {
            cid: share * population.get(cid, 0)
            for cid, share in self.registry.language_index.get(lang, {}).items()
        }

    def log_ratio(self, lang: str) -> dict[str, float]:
        """Culture id → log(its speakers of `lang` / the most any culture has); ≤ 0."""
        with self._lock:
            cached = self._by_language.get(lang)
        if cached is not None:
            return cached
        speakers = self.speakers(lang)
        top = max(speakers.values(), default=0.0)
        ratios = {
            cid: math.log(max(n, 1.0) / top) if top > 0 else 0.0 for cid, n in speakers.items()
        }
        with self._lock:
            self._by_language[lang] = ratios
        return ratios
