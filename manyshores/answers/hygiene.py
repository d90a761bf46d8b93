"""Clean generated text: no loops, no broken characters, ending at a sentence boundary.

A small model's greedy decoding falls into repeating a phrase until the token budget runs out,
and a budget can end in the middle of a sentence or of a multi-byte character. These rules run
on every generated reply before anyone reads it.
"""

from __future__ import annotations

import re

LOOP_NGRAM = 4
"""Word n-gram size of the loop rule."""
LOOP_TIMES = 3
"""A word n-gram seen this many times in one reply is a loop."""

SENTENCE_END = ".!?…。！？։။።፧؟۔।॥"
"""Characters that end a sentence in the scripts the registry's languages use."""

_TOKEN = re.compile(r"\S+")
_CLOSERS = "\"'”’»)]』」"


def _words(text: str) -> list[tuple[str, int]]:
    """(normalised word, start offset) for every whitespace-separated word."""
    return [
        (m.group().lower().strip(".,;:!?\"'()[]«»“”"), m.start()) for m in _TOKEN.finditer(text)
    ]


def loop_start(text: str, n: int = LOOP_NGRAM, times: int = LOOP_TIMES) -> int | None:
    """Offset where a looping reply first repeats itself, or None when it does not loop.

    A reply loops when some word n-gram occurs `times` times; it is cut where that n-gram
    occurs the second time, so the first, complete statement of it is kept. Scripts written
    without spaces (Chinese, Japanese) are checked on characters instead of words.
    """
    words = _words(text)
    if len(words) < n * times and len(text) > 12 and len(words) * 8 < len(text):
        return _char_loop_start(text, n, times)
    stutter = _repeated_unit_start(words, times)
    if stutter is not None:
        return stutter
    seen: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(w for w, _ in words[i : i + n])
        starts = seen.setdefault(gram, [])
        if starts and i - starts[-1] < n and gram.count(gram[0]) != n:
            continue  # overlapping occurrence of a non-uniform n-gram: not a repetition
        starts.append(i)
        if len(starts) >= times:
            return words[starts[1]][1]
    return None


def _repeated_unit_start(words: list[tuple[str, int]], times: int) -> int | None:
    """Offset of the second copy when a unit of 1-3 words repeats `times` times in a row
    (`word, word, word, word`), which no n-gram count of a longer n catches."""
    norm = [w for w, _ in words]
    for size in (1, 2, 3):
        for i in range(len(norm) - size * times + 1):
            unit = norm[i : i + size]
            if not any(unit):
                continue
            if all(norm[i + k * size : i + (k + 1) * size] == unit for k in range(1, times)):
                return words[i + size][1]
    return None


def _char_loop_start(text: str, n: int, times: int) -> int | None:
    seen: dict[str, list[int]] = {}
    for i in range(len(text) - n + 1):
        gram = text[i : i + n]
        if not all(ch.isalpha() for ch in gram):
            continue  # digits, punctuation, citations ("12:00 [1]") are not words repeating
        starts = seen.setdefault(gram, [])
        if starts and i - starts[-1] < n:
            continue
        starts.append(i)
        if len(starts) >= times:
            return starts[1]
    return None


def has_loop(text: str) -> bool:
    """True when some word 4-gram occurs three times (the loop rule)."""
    return loop_start(text) is not None


def end_at_sentence(text: str) -> str:
    """The text up to its last sentence end; a text with none gets a full stop.

    A closing quote or bracket right after the sentence end stays with it.
    """
    text = text.rstrip()
    if not text:
        return text
    if text[-1] in SENTENCE_END or (
        text[-1] in _CLOSERS and len(text) > 1 and text[-2] in SENTENCE_END
    ):
        return text
    cut = max(text.rfind(ch) for ch in SENTENCE_END)
    # A sentence end too early would throw most of the reply away: keep the words instead.
    if cut >= max(8, len(text) // 3) and not _is_abbreviation(text, cut):
        end = cut + 1
        while end < len(text) and text[end] in _CLOSERS:
            end += 1
        return text[:end]
    return text.rstrip(",;:—–- ") + "."


def _is_abbreviation(text: str, dot: int) -> bool:
    """`e.g.` / `Mr.` / a decimal point: a full stop that does not end a sentence."""
    if text[dot] != ".":
        return False
    last_word = text[:dot].split()[-1:] or [""]
    after = text[dot + 1 : dot + 2]
    return after.isdigit() or (len(last_word[0]) <= 2 and after.isalpha())


def strip_broken(text: str) -> str:
    """Drop replacement characters (U+FFFD) left by a multi-byte character cut in two."""
    return text.replace("\ufffd", "")


def clean_reply(text: str) -> str:
    """A generated reply as a person may read it: no loop, no broken character, whole sentences."""
    text = strip_broken(text).strip()
    start = loop_start(text)
    if start is not None:
        text = text[:start]
    return end_at_sentence(text)
