"""Finding mentions of places, demonyms and cultural cues in text, in any registry language.

The index holds CLDR country names in every registry language, each culture's aliases and
demonyms, and the cues of `detection.cues` (cities, festivals, dishes, currencies, landmarks).
Matching is a single left-to-right scan, longest match first: a Latin, Greek or Cyrillic word
is looked up whole (and without a short ending), other scripts by their first letters, currency
symbols by themselves; a sentence takes well under a millisecond whatever the index holds.

Boundaries depend on the script: Latin, Greek and Cyrillic names must start a word and may carry
a short suffix (`Azərbaycanda`, `Ελλάδας`, `Mexicans`; cues may not); Arabic-script and Ethiopic
names may carry the clitics those languages attach (`بالجزائر`, `በኢትዮጵያ`); Korean names take
particles (`한국에서`); Chinese, Japanese and Thai names match anywhere. Names of a country in a
language its people do not speak are kept as weaker `foreign` mentions (short ones in non-Latin
scripts are dropped: Korean `가나` is Ghana and a verb ending).
Capitalised Latin names only match capitalised text (so `turkey` the bird is not Türkiye),
unless the whole message is written in lower case; names that are also words (`Nice`) need
their capital even then. Hyphens count as spaces (`Eid al-Fitr` = `Eid al Fitr`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeVar, cast

from manyshores.cultures import CultureRegistry
from manyshores.detection.boundaries import (
    MAX_SUFFIX,
    MIN_CUE,
    MIN_SURFACE,
    PLAIN_WORDS,
    Boundary,
    after_number,
    at_sentence_start,
    boundary_of,
    end_ok,
    foreign_ok,
    lower_text,
    start_ok,
)
from manyshores.detection.cues import Cue

_T = TypeVar("_T")
MentionKind = Literal[
    "name", "demonym", "city", "foreign", "landmark", "festival", "currency", "dish"
]
_KIND_RANK = {"name": 0, "demonym": 1, "city": 2, "foreign": 3}
PLACE_KINDS = frozenset({"name", "demonym", "city", "foreign"})
"""Mentions of a place itself (the rest are cues: festivals, dishes, currencies, landmarks)."""


@dataclass(frozen=True)
class Mention:
    """One place-like expression or cultural cue found in a text."""

    start: int
    """Offset of the first character in the text."""
    end: int
    """Offset after the last character of the matched name."""
    surface: str
    """The text as written."""
    cultures: tuple[str, ...]
    """Culture ids it points at (several for shared names such as `Korea`)."""
    kind: MentionKind
    """`name` (country or region), `demonym`, `city`, `foreign`, or a cue kind."""
    languages: tuple[str, ...] = ()
    """Languages in which this surface is a name of (one of) its cultures: a `foreign` name
    written in the message's own language (Spanish `Kenia`) is that language's word for the
    place, not a stray word of another language."""
    masses: tuple[float, ...] = ()
    """For a cue, each culture's share relative to the largest (aligned with `cultures`)."""
    word_in: tuple[str, ...] = ()
    """Languages in which the surface is an everyday word (cues only)."""
    capital: bool = False
    """Written with a capital letter."""
    initial: bool = False
    """At the start of a sentence (where any word has a capital)."""
    after_number: bool = False
    """Right after a number (`10,000 won`): a currency's unit, whatever else the word means."""


class _Entry(NamedTuple):
    # Built as a named tuple, kept as a plain one (`_Row`): the index holds ~115,000, read back
    # from the start-up cache, where tuples unpickle several times faster than objects; and
    # the garbage collector stops tracking plain tuples of strings and numbers, so its full
    # passes do not walk the index (they cost milliseconds of some messages when they did).
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
    masses: tuple[float, ...] = ()
    word_in: tuple[str, ...] = ()
    strict: bool = False
    """Never matched in lower case, even when the whole message is (a name that is a word)."""


_Row = tuple[
    str, bool, str, Boundary, tuple[str, ...], MentionKind, tuple[str, ...], tuple[float, ...],
    tuple[str, ...], bool,
]  # fmt: skip
"""An `_Entry` as the index keeps it (a plain tuple, same fields)."""


def _word_key(low: str) -> str:
    """An entry's key: its first word, and for a longer name its first two (`san jose`: one key
    for the hundreds of names starting `san`)."""
    words = _words(low, 0, 2)
    return " ".join(low[a:b] for a, b in words)


def _words(low: str, start: int, count: int) -> list[tuple[int, int]]:
    """(start, end) of up to `count` runs of letters and digits from `start` on, stopping at a
    gap of more than one character that is none (`u.s.` and `eid al fitr` are runs)."""
    out: list[tuple[int, int]] = []
    n = len(low)
    i = start
    while len(out) < count and i < n and low[i].isalnum():
        j = i
        while j < n and low[j].isalnum():
            j += 1
        out.append((i, j))
        if j + 1 < n and low[j + 1].isalnum() and not low[j].isalnum():
            i = j + 1
        else:
            break
    return out


class MentionIndex:
    """Names, demonyms and cues of a registry's cultures, ready for scanning."""

    def __init__(
        self,
        registry: CultureRegistry,
        cultures: Iterable[str] | None = None,
        cues: Iterable[Cue] = (),
    ) -> None:
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
        for surface in registry.not_places(names_only=True):
            table.pop(surface, None)

        self._shared: dict[object, object] = {}
        """Equal tuples and sets stored once (the index holds ~115,000 entries)."""
        self._by_word: dict[str, Sequence[_Row]] = {}
        """Latin-like entries by their first word (lower case)."""
        self._by_prefix: dict[str, Sequence[_Row]] = {}
        """Entries of other scripts by their first three (two-letter names: two) letters."""
        self._symbols: dict[str, Sequence[_Row]] = {}
        """Entries that start with a symbol (`₹`, `€`) by that symbol."""
        strict = frozenset(lower_text(x) for x in registry.curated_list("cased_names"))
        # Expressions that contain a name but are no place (`한국어` is the Korean language):
        # indexed with no culture, so as the longest match they swallow the name inside.
        for surface in registry.not_places():
            self._put(_Entry(lower_text(surface), False, surface, boundary_of(surface), (), "name"))
        own_names: set[str] = set()
        foreign: dict[str, _Entry] = {}
        """Names only used abroad, which a cue of the same spelling joins (`Granada`)."""
        for surface, slot in table.items():
            boundary = boundary_of(surface)
            latin_like = boundary == "word"
            if latin_like and len(surface) < MIN_SURFACE and not surface.isupper():
                continue  # short lower-case names are words in some language
            if boundary not in ("word", "anywhere", "hangul") and len(surface) < 3:
                continue  # `قم` (Qom) is a piece of many Arabic words
            kinds = sorted(slot.values(), key=_KIND_RANK.__getitem__)
            if kinds[0] == "foreign" and boundary != "word" and not foreign_ok(surface):
                continue  # Korean `가나` (Ghana) is also a verb ending; `수단` (Sudan) `means`
            cased = surface.isupper() or (latin_like and surface[:1].isupper())
            low = lower_text(surface)
            langs = tuple(sorted(name_languages.get(surface, ())))
            # Lower-case typists still mean places, except where the name is also a word
            # (`turkey`) or only a name abroad (`chili`, `island`).
            is_strict = low in strict or kinds[0] == "foreign"
            entry = _Entry(low, cased, surface, boundary, tuple(sorted(slot)), kinds[0], langs,
                           strict=is_strict)  # fmt: skip
            if kinds[0] == "foreign":
                foreign[low] = entry
            else:
                own_names.add(low)
                self._put(entry)
        for cue in cues:
            self._add_cue(cue, allowed, own_names, foreign)
        for entry in foreign.values():
            self._put(entry)
        for buckets in (self._by_word, self._by_prefix, self._symbols):
            for key, entries in buckets.items():
                ordered = sorted(cast(list[_Entry], entries), key=lambda e: -len(e.surface))
                buckets[key] = tuple(cast(_Row, tuple(e)) for e in ordered)
        # Inside a word only names that can follow letters are tried (Chinese, or an Arabic
        # clitic before a name): most positions of a text then cost one dict lookup.
        self._inside: dict[str, Sequence[_Row]] = {}
        for key, entries in self._by_prefix.items():
            inside = tuple(e for e in entries if e[3] in ("anywhere", "arabic", "ethiopic"))
            if inside:
                self._inside[key] = inside
        self._shared.clear()

    def _add_cue(
        self, cue: Cue, allowed: set[str] | None, own_names: set[str], foreign: dict[str, _Entry]
    ) -> None:
        surface = cue.surface.strip()
        low = lower_text(surface)
        masses = {c: m for c, m in cue.masses.items() if allowed is None or c in allowed}
        if not masses or low in own_names or not low.strip() or not _cue_long_enough(cue, low):
            return
        abroad = foreign.pop(low, None)
        if abroad is not None:
            # One spelling, two readings: a city of one culture and another's name abroad
            # (Granada, Spain; Spanish `Granada` for Grenada): one cue for both.
            masses.update({c: max(masses.values()) for c in abroad.cultures})
        pairs = sorted(masses.items())
        boundary = boundary_of(surface)
        # A city is a name like a country's (capitalised, unless all the message is in lower
        # case); other cues only when they are also a word (`Nice`) or an acronym (`NHS`):
        # people write `diwali`, `baccalauréat`, `kimchi` in lower case.
        cased = surface.isupper() or (
            boundary == "word"
            and surface[:1].isupper()
            and (cue.kind == "city" or bool(cue.word_in))
        )
        self._put(_Entry(low, cased, surface, boundary, tuple(c for c, _ in pairs), cue.kind,
                         (), tuple(m for _, m in pairs), tuple(sorted(cue.word_in)),
                         cue.strict))  # fmt: skip

    def _put(self, entry: _Entry) -> None:
        def share(value: _T) -> _T:
            return cast(_T, self._shared.setdefault(value, value))

        entry = entry._replace(
            original=entry.original if entry.cased else "",
            cultures=share(entry.cultures),
            languages=share(entry.languages),
            masses=share(entry.masses),
            word_in=share(entry.word_in),
        )
        low = entry.surface
        if not low[:1].isalnum():
            _append(self._symbols, low[:1], entry)
        elif entry.boundary == "word":
            _append(self._by_word, _word_key(low), entry)
        else:
            _append(self._by_prefix, low[:3], entry)

    def __len__(self) -> int:
        return sum(
            len(v)
            for table in (self._by_word, self._by_prefix, self._symbols)
            for v in table.values()
        )

    def find(self, text: str, kinds: frozenset[str] | None = None) -> list[Mention]:
        """Every mention in `text`, left to right, longest match first, non-overlapping (of
        `kinds` only, when given: the others are still matched, so they are not cut up)."""
        low = lower_text(text)
        all_lower = not any(ch.isupper() for ch in text)
        n = len(low)
        found: list[Mention] = []
        i = 0
        word_start = 0
        while i < n - 1:
            ch = low[i]
            if not ch.isalnum():
                symbols = self._symbols.get(ch)
                match = self._first(symbols, text, low, i, "", all_lower) if symbols else None
                if match is None:
                    i += 1
                    word_start = i
                    continue
            else:
                prefix = low[word_start:i]
                match = None
                if i == word_start:
                    match = self._word_match(text, low, i, all_lower)
                table = self._by_prefix if i == word_start else self._inside
                entries = table.get(low[i : i + 3])
                if i + 2 < n:
                    short = table.get(low[i : i + 2])
                    if short:
                        entries = (*(entries or ()), *short)
                if entries:
                    other = self._first(entries, text, low, i, prefix, all_lower)
                    if other is not None and (match is None or other.end > match.end):
                        match = other
            if match is not None:
                if match.cultures and (kinds is None or match.kind in kinds):
                    found.append(match)
                i = match.end
            elif i == word_start and low[i] < PLAIN_WORDS:
                j = i + 1
                while j < n and low[j].isalnum():
                    j += 1
                i = j if max(low[i:j]) < PLAIN_WORDS else i + 1
            else:
                i += 1
        return found

    def _word_match(self, text: str, low: str, i: int, all_lower: bool) -> Mention | None:
        """The longest Latin-like entry starting at the word that starts at `i`."""
        words = _words(low, i, 2)
        j = words[0][1]
        keys = [low[i:cut] for cut in range(j, max(i, j - MAX_SUFFIX - 1), -1)]
        if len(words) == 2:
            # Longer names are keyed by two words; the second may carry an ending too.
            a, b = words[1]
            head = f"{low[i:j]} "
            keys += [head + low[a:cut] for cut in range(b, max(a, b - MAX_SUFFIX - 1), -1)]
        best: Mention | None = None
        for key in keys:
            entries = self._by_word.get(key)
            if entries:
                found = self._first(entries, text, low, i, "", all_lower)
                if found is not None and (best is None or found.end > best.end):
                    best = found
        return best

    def _first(
        self, entries: Sequence[_Row], text: str, low: str, i: int, prefix: str, all_lower: bool
    ) -> Mention | None:
        """The first (longest) of `entries` that matches at `i`."""
        for row in entries:
            surface, cased, original, boundary, cultures, kind, langs, masses, word_in, strict = row
            if not start_ok(boundary, prefix) or not low.startswith(surface, i):
                continue
            end = i + len(surface)
            if not end_ok(surface, boundary, kind, low, end):
                continue
            if cased:
                if len(surface) < MIN_SURFACE or original.isupper():
                    # Acronyms always as written: `US`, never `us`.
                    if not text.startswith(original, i):
                        continue
                elif not text[i].isupper() and not (all_lower and not strict):
                    continue
            elif strict and not text[i].isupper():
                continue
            return Mention(i, end, text[i:end], cultures, kind, langs, masses, word_in,
                           text[i].isupper(), at_sentence_start(text, i), after_number(text, i))  # fmt: skip
        return None


def _cue_long_enough(cue: Cue, low: str) -> bool:
    boundary = boundary_of(low)
    if boundary == "word" and low[:1].isalnum():
        letters = sum(ch.isalnum() for ch in low)
        # `won` is a word, but a currency's unit after a number (`detector`); `Van` (a city
        # of half a million) keeps its capital.
        return letters >= MIN_CUE and (
            letters >= MIN_SURFACE
            or not cue.word_in
            or cue.kind == "currency"
            or cue.surface.strip()[:1].isupper()
        )
    if boundary in ("anywhere", "hangul"):
        return len(low) >= 2
    return boundary == "word" or len(low) >= 3


def _append(table: dict[str, Sequence[_Row]], key: str, entry: _Entry) -> None:
    bucket = table.get(key)
    if bucket is None:
        table[key] = [entry]
    else:
        cast(list[_Entry], bucket).append(entry)
