"""The names of a culture stripped from its questions, and whether a text is in its language."""

from __future__ import annotations

import functools
import json
import unicodedata

from manyshores.paths import PACKAGE_EVIDENCE

PACKAGE_NAMES = PACKAGE_EVIDENCE / "names.json"
"""Culture → names stripped from its questions, saved with the question vectors (reading the
culture registry costs seconds; a query must not)."""


@functools.lru_cache(maxsize=1)
def _shipped_names() -> dict[str, list[str]]:
    try:
        raw = json.loads(PACKAGE_NAMES.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(c): [str(n) for n in names] for c, names in raw.items()}


def culture_names(culture: str, data_name: str, *, registry: bool = False) -> list[str]:
    """Names to strip from questions about `culture`: the data's own and the registry's (the
    shipped list unless `registry`)."""
    names = [data_name]
    shipped = _shipped_names().get(culture)
    if shipped is not None and not registry:
        return sorted({*names, *shipped})
    try:
        from manyshores.cultures import get_registry

        c = get_registry().get(culture)
        for values in (c.names, c.demonyms):
            for forms in values.values():
                names += forms
    except Exception:  # a culture the registry does not know: its data name is enough
        pass
    return sorted({n for n in names if len(n) > 1})


def looks_local(text: str, language: str) -> bool | None:
    """True/False when the script decides whether `text` is in `language`; None when it cannot
    (Latin-script languages, or too few letters)."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 2 or language == "en":
        return False if language == "en" else None
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if language in LATIN_LANGUAGES:
        return None if latin / len(letters) > 0.5 else True
    return latin / len(letters) < 0.5


LATIN_LANGUAGES = frozenset({"en", "es", "id", "su", "az", "ha", "fr", "de", "pt", "sw", "tr"})
"""Local languages written in Latin script: script alone cannot tell them from English."""
