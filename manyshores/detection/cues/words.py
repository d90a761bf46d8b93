"""Everyday words per language (wordfreq's frequency lists), to tell a cue that is also a word.

A city called `Nice`, `Split` or `Van`, a currency called `won` or `real`, or a term only one
culture's people gave (`target`) is also an ordinary word somewhere. Such a cue must not fire on
the word: the index keeps the languages in which it is one, and the detector ignores it in a
message written in one of those languages unless it is written as a name (see `detector`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manyshores.cultures import base_language

ORDINARY_ZIPF = 4.0
"""A word at least this frequent (Zipf scale: 4 = once per 100,000 words) is an everyday word of
its language. Names are frequent too (`london` 5.3), which is why a cue's matching rules, not
this list alone, decide (`detector`); below 4.0 sit rare loanwords such as `kimchi` (2.8)."""

VOCABULARY_ZIPF = 3.0
"""An English word at least this frequent is English vocabulary (`dumplings`, `porridge`): a
bank term made only of such words is a translation, not a dish's own name (`tteokguk`)."""

_WORDLIST = "small"
"""wordfreq's short lists (words down to Zipf 3): enough for the threshold, a second to read."""


def tokens(phrase: str) -> list[str]:
    """The lower-cased runs of letters and digits of a phrase (the scanner's word units)."""
    out: list[str] = []
    word: list[str] = []
    for ch in phrase.lower():
        if ch.isalnum():
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


@dataclass
class OrdinaryWords:
    """Word → languages (registry codes) in which it is an everyday word."""

    words: dict[str, frozenset[str]] = field(default_factory=dict)
    """Lower-cased word → languages where its frequency reaches `ORDINARY_ZIPF`."""
    english: frozenset[str] = frozenset()
    """English words at least `VOCABULARY_ZIPF` frequent."""

    @classmethod
    def load(cls, zipf: float = ORDINARY_ZIPF) -> OrdinaryWords:
        """Every language wordfreq knows (42, from Arabic to Vietnamese); an empty table when
        wordfreq is missing (then no cue is treated as a word)."""
        try:
            import wordfreq
        except ImportError:  # pragma: no cover - a declared dependency
            return cls()
        # wordfreq bins words by centibels: bin i holds frequency 10^(-i/100), Zipf 9 - i/100.
        last_bin = int(round((9.0 - zipf) * 100))
        found: dict[str, set[str]] = {}
        for code in wordfreq.available_languages(wordlist=_WORDLIST):
            lang = base_language(code)
            for bins in wordfreq.get_frequency_list(code, wordlist=_WORDLIST)[: last_bin + 1]:
                for word in bins:
                    found.setdefault(word, set()).add(lang)
        vocabulary_bin = int(round((9.0 - VOCABULARY_ZIPF) * 100))
        english = frozenset(
            word
            for bins in wordfreq.get_frequency_list("en", wordlist=_WORDLIST)[: vocabulary_bin + 1]
            for word in bins
        )
        interned: dict[frozenset[str], frozenset[str]] = {}
        words = {}
        for word, langs in found.items():
            key = frozenset(langs)
            words[word] = interned.setdefault(key, key)
        return cls(words, english)

    def languages(self, phrase: str) -> frozenset[str]:
        """Languages in which every word of `phrase` is an everyday word (none for an empty
        phrase). A phrase without spaces in a script written without them (`大同`) is looked up
        whole, as the lists hold it."""
        parts = tokens(phrase)
        if not parts:
            return frozenset()
        common: frozenset[str] | None = None
        for part in parts:
            langs = self.words.get(part, frozenset())
            common = langs if common is None else common & langs
            if not common:
                return frozenset()
        return common or frozenset()

    def english_vocabulary(self, phrase: str) -> bool:
        """True when every word of `phrase` is an English word (`steamed bun`)."""
        parts = tokens(phrase)
        return bool(parts) and all(p in self.english for p in parts)
