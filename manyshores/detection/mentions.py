"""Finding mentions of places, demonyms and major cities in text, in any registry language.

The index holds CLDR country names in every registry language, each culture's aliases, its
demonyms and a short list of its major cities. Matching is a single left-to-right scan that
looks names up by their first two letters (about 50 µs for a sentence), longest match first.

Boundaries depend on the script: Latin, Greek and Cyrillic names must start a word and may carry
a short suffix (`Azərbaycanda`, `Ελλάδας`, `Mexicans`); Arabic-script and Ethiopic names may
carry the clitics those languages attach (`بالجزائر`, `በኢትዮጵያ`); Korean names take particles
(`한국에서`); Chinese, Japanese and Thai names match anywhere. Names of a country in a language its
people do not speak are kept as weaker `foreign` mentions (short ones in non-Latin scripts are
dropped: Korean `가나` is Ghana and a verb ending).
Capitalised Latin names only match capitalised text (so `turkey` the bird is not Türkiye),
unless the whole message is written in lower case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from manyshores.cultures import CultureRegistry
from manyshores.detection.scripts import char_script

MentionKind = Literal["name", "demonym", "city", "foreign"]
_KIND_RANK = {"name": 0, "demonym": 1, "city": 2, "foreign": 3}
Boundary = Literal["word", "arabic", "ethiopic", "indic", "hangul", "anywhere"]

MAX_SUFFIX = 4
"""Letters a Latin/Greek/Cyrillic name may carry after it (case endings, plural)."""

MIN_SURFACE = 4
"""Shorter names only match as whole words and only when written exactly (acronyms: UK, USA)."""

_ARABIC_PREFIXES = frozenset({"و", "ب", "ل", "ف", "ك", "لل", "بال", "وال", "فال", "كال", "وب",
                              "ول", "در", "به", "از"})  # fmt: skip
"""Clitics (and, in, to, the, Persian در/به/از) written attached to an Arabic-script word."""
_ARABIC_SUFFIXES = frozenset({"ي", "ی", "ية", "يه", "ى", "ها", "يين", "يون", "يات", "ين", "ون"})
_ETHIOPIC_PREFIXES = frozenset({"በ", "ከ", "የ", "ለ", "ወ", "እ", "ስ", "ወደ", "እንደ"})
_HANGUL_PARTICLES = frozenset({"의", "에", "에서", "에서는", "에서의", "에선", "에는", "은", "는", "이", "가", "을",
                               "를", "과", "와", "으로", "로", "도", "만", "까지", "사람", "사람들",
                               "사람들은", "사람들이", "사람들의", "인", "인들", "인들은", "인들이", "식",
                               "산", "의료", "처럼", "보다", "이나", "나", "에게", "에서도", "에도", "적",
                               "적인", "정부", "문화", "요리", "음식"})  # fmt: skip
"""What Korean attaches to a place name (particles, `사람` people, `식` style): `한국에서`."""
_HANGUL_COUNTRIES = frozenset({"일본", "독일", "인도", "호주", "대만", "이란", "케냐", "페루"})
_INDIC = frozenset({"Bengali", "Devanagari", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu",
                    "Kannada", "Malayalam", "Sinhala", "Tibetan"})  # fmt: skip
_ANYWHERE = frozenset({"Han", "Kana", "Thai", "Lao", "Khmer", "Myanmar"})


@dataclass(frozen=True)
class Mention:
    """One place-like expression found in a text."""

    start: int
    """Offset of the first character in the text."""
    end: int
    """Offset after the last character of the matched name."""
    surface: str
    """The text as written."""
    cultures: tuple[str, ...]
    """Culture ids it points at (several for shared names such as `Korea`)."""
    kind: MentionKind
    """`name` (country or region), `demonym`, or `city`."""
    languages: tuple[str, ...] = ()
    """Languages in which this surface is a name of (one of) its cultures: a `foreign` name
    written in the message's own language (Spanish `Kenia`) is that language's word for the
    place, not a stray word of another language."""


@dataclass(frozen=True)
class _Entry:
    surface: str
    """Lower-cased form matched against lower-cased text."""
    cased: bool
    """Must match with the original capitalisation (acronyms, capitalised Latin names)."""
    original: str
    boundary: Boundary
    """How the name may attach to surrounding letters (depends on its script)."""
    cultures: tuple[str, ...]
    kind: MentionKind
    languages: tuple[str, ...] = ()


def _lower(text: str) -> str:
    # Per-character lowering keeps offsets aligned (str.lower() can lengthen `İ`).
    out = []
    for ch in text:
        low = ch.lower()
        out.append(low if len(low) == 1 else ch)
    return "".join(out).replace("’", "'")


def _boundary(surface: str) -> Boundary:
    for ch in surface:
        script = char_script(ch)
        if script is None:
            continue
        if script in _ANYWHERE:
            return "anywhere"
        if script == "Arabic":
            return "arabic"
        if script == "Ethiopic":
            return "ethiopic"
        if script == "Hangul":
            return "hangul"
        if script in _INDIC:
            return "indic"
        return "word"
    return "word"


class MentionIndex:
    """Names, demonyms and cities of a registry's cultures, ready for scanning."""

    def __init__(self, registry: CultureRegistry, cultures: Iterable[str] | None = None) -> None:
        allowed = set(cultures) if cultures is not None else None
        table: dict[str, dict[str, MentionKind]] = {}
        name_languages: dict[str, set[str]] = {}

        def add(surface: str, culture: str, kind: MentionKind, lang: str = "") -> None:
            surface = surface.strip()
            if not surface or (allowed is not None and culture not in allowed):
                return
            if lang:
                name_languages.setdefault(surface, set()).add(lang)
            slot = table.setdefault(surface, {})
            old = slot.get(culture)
            if old is None or _KIND_RANK[kind] < _KIND_RANK[old]:
                slot[culture] = kind

        own = {c.id: {"en", *c.languages, *c.names} for c in registry.all()}
        for lang, names in registry.names_any_language.items():
            for surface, ids in names.items():
                for cid in ids:
                    # A country's name in a language its people do not speak is weaker
                    # evidence (and more often a common word of that language).
                    add(surface, cid, "name" if lang in own[cid] else "foreign", lang)
        for c in registry.all():
            for demonyms in c.demonyms.values():
                for d in demonyms:
                    add(d, c.id, "demonym")
            for city in c.cities:
                add(city, c.id, "city")
        for surface in registry.not_places(names_only=True):
            table.pop(surface, None)

        # Expressions that contain a name but are no place (`한국어` is the Korean language):
        # indexed with no culture, so as the longest match they swallow the name inside.
        self._strict = frozenset(_lower(x) for x in registry.curated_list("cased_names"))
        self._by_prefix: dict[str, list[_Entry]] = {}
        for surface in registry.not_places():
            low = _lower(surface)
            entry = _Entry(low, False, surface, _boundary(surface), (), "name")
            self._by_prefix.setdefault(low[:3], []).append(entry)
        # Inside a word only names that can follow letters are tried (Chinese, or an Arabic
        # clitic before a name): most positions of a Latin text then cost one dict lookup.
        for surface, slot in table.items():
            boundary = _boundary(surface)
            latin_like = boundary == "word"
            if latin_like and len(surface) < MIN_SURFACE and not surface.isupper():
                continue  # short lower-case names are words in some language
            if boundary not in ("word", "anywhere", "hangul") and len(surface) < 3:
                continue  # `قم` (Qom) is a piece of many Arabic words
            kinds = sorted(slot.values(), key=_KIND_RANK.__getitem__)
            if kinds[0] == "foreign" and boundary != "word" and not _foreign_ok(surface):
                continue  # Korean `가나` (Ghana) is also a verb ending; `수단` (Sudan) `means`
            cased = surface.isupper() or (latin_like and surface[:1].isupper())
            low = _lower(surface)
            langs = tuple(sorted(name_languages.get(surface, ())))
            entry = _Entry(low, cased, surface, boundary, tuple(sorted(slot)), kinds[0], langs)
            self._by_prefix.setdefault(low[:3], []).append(entry)
        for entries in self._by_prefix.values():
            entries.sort(key=lambda e: -len(e.surface))
        self._inside: dict[str, list[_Entry]] = {}
        for key, entries in self._by_prefix.items():
            inside = [e for e in entries if e.boundary in ("anywhere", "arabic", "ethiopic")]
            if inside:
                self._inside[key] = inside

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_prefix.values())

    def find(self, text: str) -> list[Mention]:
        """Every mention in `text`, left to right, longest match first, non-overlapping."""
        low = _lower(text)
        all_lower = not any(ch.isupper() for ch in text)
        n = len(low)
        found: list[Mention] = []
        i = 0
        word_start = 0
        while i < n - 1:
            ch = low[i]
            if not ch.isalnum():
                i += 1
                word_start = i
                continue
            table = self._by_prefix if i == word_start else self._inside
            # Names are keyed by their first three letters (two-letter names by both).
            entries = table.get(low[i : i + 3])
            if i + 2 < n:
                short = table.get(low[i : i + 2])
                if short:
                    entries = [*(entries or []), *short]
            match = None
            if entries:
                prefix = low[word_start:i]
                for e in entries:
                    if not _start_ok(e.boundary, prefix):
                        continue
                    if not low.startswith(e.surface, i):
                        continue
                    end = i + len(e.surface)
                    if not _end_ok(e, low, end):
                        continue
                    if e.cased:
                        if len(e.surface) < MIN_SURFACE or e.original.isupper():
                            # Acronyms always as written: `US`, never `us`.
                            if not text.startswith(e.original, i):
                                continue
                        elif not text[i].isupper() and not (
                            all_lower and e.kind != "foreign" and e.surface not in self._strict
                        ):
                            # Lower-case typists still mean places, except where the name is
                            # also a word (`turkey`) or only a name abroad (`chili`, `island`).
                            continue
                    match = Mention(i, end, text[i:end], e.cultures, e.kind, e.languages)
                    break
            if match is not None:
                if match.cultures:
                    found.append(match)
                i = match.end
            else:
                i += 1
        return found


def _foreign_ok(surface: str) -> bool:
    if _boundary(surface) == "hangul":
        return len(surface) >= 3 or surface.endswith("국") or surface in _HANGUL_COUNTRIES
    return len(surface) >= 4


def _start_ok(boundary: Boundary, prefix: str) -> bool:
    if not prefix or boundary == "anywhere":
        return True
    if boundary == "arabic":
        return prefix in _ARABIC_PREFIXES
    if boundary == "ethiopic":
        return prefix in _ETHIOPIC_PREFIXES
    return False


def _end_ok(e: _Entry, low: str, end: int) -> bool:
    tail = 0
    while end + tail < len(low) and low[end + tail].isalpha():
        tail += 1
    if tail == 0 or e.boundary == "anywhere":
        return True
    if e.boundary == "hangul":
        return low[end : end + tail] in _HANGUL_PARTICLES
    if e.kind == "city" or e.surface.isupper():
        return False
    if e.boundary == "arabic":
        return low[end : end + tail] in _ARABIC_SUFFIXES
    if e.boundary == "ethiopic":
        return tail <= 2
    if e.boundary == "indic":
        return tail <= 3
    return len(e.surface) > MIN_SURFACE and tail <= MAX_SUFFIX
