"""Clean generated text: no markup, no loops, no broken characters, ending at a sentence boundary.

A small model's greedy decoding falls into repeating a phrase until the token budget runs out,
a budget can end in the middle of a sentence or of a multi-byte character, and the model copies
markup from its prompt (citation markers, source ids: `answers.markup`). These rules run on
every generated reply before anyone reads it.
"""

from __future__ import annotations

import re

from manyshores.answers.markup import MarkupFilter

LOOP_NGRAM = 4
"""Word n-gram size of the loop rule."""
LOOP_TIMES = 3
"""A word n-gram seen this many times in one reply is a loop."""

SENTENCE_END = ".!?…。！？։။።፧؟۔।॥"
"""Characters that end a sentence in the scripts the registry's languages use."""

EARLY_WORDS = 8
"""A first sentence is judged (language, a question repeated back) on at most this many words,
so a long one can be shown before it ends."""
EARLY_AFTER = 12
"""Complete words a first sentence needs before its words are shown ahead of its end; from 12
words on, the loop rule counts words, never characters."""

LIST_ITEM_WORDS = 4
"""A comma-separated part of a sentence this long or shorter is a list item (longer: a clause)."""
_LIST_SEPARATORS = re.compile(r"[,;、，；،]")
_CONJUNCTIONS = frozenset(
    "and or but y o e et ou und oder и или και ή ve veya və dan atau".split()  # noqa: SIM905
)
_DISCOURSE = frozenset(
    "yes no well so then however also too now first second finally".split()  # noqa: SIM905
)
"""One-word parts that are not list items ("yes, …, and yes, …")."""

_TOKEN = re.compile(r"\S+")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_CLOSERS = "\"'”’»)]』」"
TRAILING = ",;:—–- "
"""Dropped from the end of a reply that gets a full stop (and from a streamed start)."""


_CITATION = re.compile(r"(?:\[\d+\])+[.,;:!?]*")
"""A reply's citation markers (`[1][3].`): references to sources, not words that can loop."""


def _words(text: str) -> list[tuple[str, int]]:
    """(normalised word, start offset) for every whitespace-separated word (citations left out:
    "2 [1]; 1 [1]." names two answers, it does not stutter "1 1 1")."""
    return [
        (m.group().lower().strip(".,;:!?\"'()[]«»“”"), m.start())
        for m in _TOKEN.finditer(text)
        if not _CITATION.fullmatch(m.group())
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


def _second_ngram(words: list[tuple[str, int]], n: int) -> int | None:
    """Index of the earliest word where some word n-gram occurs a second time (counted as
    `loop_start` counts: an overlapping occurrence of a non-uniform n-gram is not one)."""
    seen: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(w for w, _ in words[i : i + n])
        starts = seen.setdefault(gram, [])
        if starts and i - starts[-1] < n and gram.count(gram[0]) != n:
            continue
        if starts:
            return i
        starts.append(i)
    return None


def _second_copy(words: list[tuple[str, int]]) -> int | None:
    """Index of the earliest word starting a second copy, in a row, of a 1-3 word unit."""
    norm = [w for w, _ in words]
    found = [
        i + size
        for size in (1, 2, 3)
        for i in range(len(norm) - 2 * size + 1)
        if any(norm[i : i + size]) and norm[i + size : i + 2 * size] == norm[i : i + size]
    ]
    return min(found, default=None)


def early_end(text: str) -> int:
    """How much of an unfinished first sentence may be shown before it ends: 0, or an offset
    that no later text can take back.

    Shown words never reach where the loop rule could cut (the second occurrence of any word
    4-gram or the second copy of a stutter so far, and the last three words, which a phrase
    being repeated may yet start), nor a sentence-end character (a reply with no certain
    sentence end is cut back to its last one), and end without trailing commas or dashes
    (which a reply ending there drops). At least `EARLY_WORDS` words, or nothing."""
    tokens = list(_TOKEN.finditer(text))
    if tokens and tokens[-1].end() == len(text):
        tokens.pop()  # a word still arriving
    paragraph = _PARAGRAPH.search(text)
    if paragraph:  # a reply with no sentence end keeps only its first paragraph
        tokens = [t for t in tokens if t.end() <= paragraph.start()]
    if len(tokens) < EARLY_AFTER:
        return 0
    words = _words(text)[: len(tokens)]
    limit = len(tokens) - (LOOP_NGRAM - 1)
    for cut in (_second_ngram(words, LOOP_NGRAM), _second_copy(words)):
        if cut is not None:
            limit = min(limit, cut)
    for k, token in enumerate(tokens[:limit]):
        if any(ch in SENTENCE_END for ch in token.group()):
            limit = k
            break
    if limit < EARLY_WORDS:
        return 0
    return len(text[: tokens[limit - 1].end()].rstrip(TRAILING))


def repeats_an_item(sentence: str) -> bool:
    """A list that names one thing twice ("scrambled eggs, bacon, sausage, and bacon"): a small
    model's loop that no n-gram count sees."""
    seen: set[tuple[str, ...]] = set()
    for part in _LIST_SEPARATORS.split(sentence):
        words = [w for w, _ in _words(part) if w]
        while words and words[0] in _CONJUNCTIONS:
            words = words[1:]
        if (
            not words
            or len(words) > LIST_ITEM_WORDS
            or (len(words) == 1 and words[0] in _DISCOURSE)
        ):
            continue
        if tuple(words) in seen:
            return True
        seen.add(tuple(words))
    return False


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
    return text.rstrip(TRAILING) + "."


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


_WIDE_SENTENCE_END = "。！？"
"""Sentence ends of scripts written without spaces: no space needs to follow them."""


def _sentence_ends(text: str, final: bool, spaced: bool = False) -> list[int]:
    """Offsets just after each sentence end that is certainly one: followed by whitespace (or,
    for wide punctuation, by anything), closing quotes kept with it. While text is still
    arriving (`final` False) an end at the very end of the text is not yet certain, unless
    whitespace is known to follow it (`spaced`: held back by the markup filter)."""
    ends = []
    for i, ch in enumerate(text):
        if ch not in SENTENCE_END:
            continue
        end = i + 1
        while end < len(text) and text[end] in _CLOSERS:
            end += 1
        if end == len(text):
            if final or (spaced and not _is_abbreviation(text + " ", i)):
                ends.append(end)
            continue
        certain = ch in _WIDE_SENTENCE_END or text[end].isspace()
        if certain and not _is_abbreviation(text, i):
            ends.append(end)
    return ends


def _said(sentence: str) -> tuple[str, ...]:
    return tuple(w for w, _ in _words(sentence) if w)


class CleanStream:
    """Generated text cleaned as it arrives: only text that the finished reply keeps is released.

    The rules are those of `clean_reply` (which is this stream fed at once), arranged so that
    released text is never taken back: markup is taken out first (`MarkupFilter`, which holds
    back what may yet become markup), then whole sentences are released one by one while none of
    them makes the reply loop, says an earlier sentence again or (after the first) names one
    list item twice; the first that would stops the reply there. What follows the last sentence
    end is kept only when the reply has nothing else worth reading (a reply with no sentence end,
    then only its first paragraph, or one whose first sentence is a word or two), and then ends
    with a full stop. A long first
    sentence is shown word by word as far as `early_end` allows, so the first words need not
    wait for its end.
    """

    def __init__(self) -> None:
        self._markup = MarkupFilter()
        self._raw = ""
        """The generated text so far, without markup and broken characters."""
        self._kept = 0
        """Characters of the (stripped) text released so far: whole sentences."""
        self._early = 0
        """Characters of the unfinished first sentence released ahead of its end."""
        self._sentences: set[tuple[str, ...]] = set()
        self.stopped = False
        """True once the reply looped or repeated itself: later text is ignored."""
        self.text = ""
        """Everything released so far."""

    def feed(self, piece: str) -> str:
        """Add generated text; return the newly released text ("" while a sentence is open)."""
        if self.stopped:
            return ""
        self._raw += self._markup.feed(strip_broken(piece))
        out = self._release(final=False)
        if not self._kept and not self.stopped:
            end = early_end(strip_broken(self._raw).lstrip())
            if end > self._early:
                out += self._emit(strip_broken(self._raw).lstrip()[self._early : end])
                self._early = end
        return out

    def finish(self) -> str:
        """The generation ended: return the rest that the reply keeps."""
        if not self.stopped:
            self._raw += self._markup.finish()
        released = "" if self.stopped else self._release(final=True)
        text = strip_broken(self._raw).strip()
        kept = self.text
        if not self._kept:  # no whole sentence was released: the rules apply to the text at once
            whole = end_at_sentence(_cut_loop(_first_paragraph(text)))
            if self._markup.removed and len(whole.split()) < MIN_WORDS_AFTER_MARKUP:
                whole = ""  # "The answer is: [1]\n\nThe": markup and a stray word, no answer
            return self._emit(whole[len(kept) :]) if whole.startswith(kept) else ""
        tail = text[len(kept) :] if text.startswith(kept) else ""
        whole = kept + tail
        short = len(kept.rstrip()) < max(8, len(whole.rstrip()) // 3)
        if not self.stopped and tail.strip() and short and loop_start(whole) is None:
            # Dropping the unfinished words would throw most of the reply away: keep them.
            return released + self._emit(end_at_sentence(whole)[len(kept) :])
        return released

    @property
    def markup_removed(self) -> bool:
        """True once markup was taken out of the text (`answers.markup`)."""
        return self._markup.removed

    def _release(self, final: bool) -> str:
        text = strip_broken(self._raw).lstrip()
        out = ""
        for end in _sentence_ends(text, final, self._markup.space_follows):
            if end <= self._kept:
                continue
            sentence = text[self._kept : end]
            said = _said(sentence)
            candidate = text[:end]
            # A later sentence that lists one thing twice ends the reply too (the first is never
            # judged so: it may already be shown, word by word).
            again = said and said in self._sentences
            listed_twice = bool(self._kept) and repeats_an_item(sentence)
            if again or listed_twice or loop_start(candidate) is not None:
                self.stopped = True
                break
            self._sentences.add(said)
            out += self._emit(sentence[self._early if not self._kept else 0 :])
            self._kept = end
        return out

    def _emit(self, piece: str) -> str:
        self.text += piece
        return piece


MIN_WORDS_AFTER_MARKUP = 2
"""An unfinished reply shorter than this once its markup is gone is a leftover, not an answer."""


def _first_paragraph(text: str) -> str:
    """The text up to its first blank line: after it, a reply with no sentence end has only
    started over ("…and the answer is:\n\nThey")."""
    found = _PARAGRAPH.search(text)
    return text[: found.start()] if found else text


def _cut_loop(text: str) -> str:
    start = loop_start(text)
    return text if start is None else text[:start]


def clean_reply(text: str) -> str:
    """A generated reply as a person may read it: no markup, no loop, no broken character, whole
    sentences."""
    stream = CleanStream()
    stream.feed(text)
    stream.finish()
    return stream.text.strip()
