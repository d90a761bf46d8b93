"""Culture registry: ids, names, demonyms, languages, cultural zones, regions and similarity.

Every ISO 3166-1 country (from ``pycountry``) is a culture, with id = alpha-3 (``KEN``); a few
sub-national cultures that matter (``IN-AS`` Assam, ``ID-JB`` West Java, ...) use ISO 3166-2 ids.

Where each fact comes from:

- names in English and in the culture's main languages: CLDR via ``babel``
  (``Locale(lang).territories``), plus a few curated aliases (``USA``, ``한국``, ...);
- main languages with population shares: CLDR territory data (``territory_languages``);
- demonyms, UN M49 sub-regions, Inglehart–Welzel cultural-map zones and the
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

from manyshores.cultures.culture import ZONES, Culture, base_language, iso_name
from manyshores.cultures.nearest import NEAREST_K, culture_similarity, nearest_cultures
from manyshores.cultures.registry import (
    CultureRegistry,
    get_registry,
    install_registry,
    registry_if_built,
)
from manyshores.cultures.similarity import survey_similarity_from_wvs

__all__ = [
    "NEAREST_K",
    "ZONES",
    "Culture",
    "CultureRegistry",
    "base_language",
    "culture_similarity",
    "get_registry",
    "install_registry",
    "iso_name",
    "nearest_cultures",
    "registry_if_built",
    "survey_similarity_from_wvs",
]
