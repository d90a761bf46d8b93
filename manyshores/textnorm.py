"""Answer normalisation shared by the grounding check, the BLEnD scorer and the evidence ranker.

BLEnD scores a short answer as correct when it matches a human answer after lower-casing,
stripping punctuation and articles, and lemmatising. No lemmatiser ships offline here, so a light
suffix stemmer stands in: it maps the inflections that matter for everyday answers (plural `-s`,
`-es`, `-ies`; `-ing`, `-ed`) to one form, and it is applied to both sides, so over-stemming can
only merge forms, never split a match. Non-Latin scripts pass through unchanged (lower-cased).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

ARTICLES = frozenset({"a", "an", "the"})
"""Dropped from both sides before matching (BLEnD strips English articles)."""

STOPWORDS = ARTICLES | frozenset(
    [
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "they",
        "them",
        "their",
        "people",
        "usually",
        "often",
        "most",
        "common",
        "commonly",
        "some",
        "many",
        "very",
    ]
)
"""Function words ignored by the grounding overlap (they say nothing about support)."""

_PUNCT_RE = re.compile(r"[\W_]+", re.UNICODE)


def strip_accents(text: str) -> str:
    """Latin diacritics removed (`café` → `cafe`); other scripts are left as they are."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A light English suffix stemmer (plurals, -ing, -ed, y/ie → i); short words are kept."""
    if not word.isascii() or len(word) <= 2:
        return word
    for suffix, repl in (("ies", "i"), ("ied", "i"), ("sses", "ss"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 2:
            if suffix == "es" and not re.search(r"(ch|sh|x|z|o)es$", word):
                continue  # "cakes" -> "cake" via the plain -s rule, not "cak"
            if suffix == "s" and (word.endswith(("us", "is")) or len(word) <= 3):
                break  # "bus", "couscous", "tennis", "gas" are not plurals
            word = word[: -len(suffix)] + repl
            break
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    # Porter's y/ie → i: "cherry"/"cherries", "fry"/"fried", "cookie"/"cookies" meet.
    if word.endswith("ie") and len(word) > 3:
        word = word[:-1]
    elif word.endswith("y") and len(word) >= 3 and word[-2] not in "aeiou":
        word = word[:-1] + "i"
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased, accent-stripped, punctuation-split, article-free, stemmed tokens."""
    words = _PUNCT_RE.sub(" ", strip_accents(text.lower())).split()
    return [stem(w) for w in words if w not in ARTICLES]


def normalize_answer(text: str) -> str:
    """The normalised form of an answer: its tokens joined by single spaces."""
    return " ".join(tokens(text))


def content_tokens(text: str) -> list[str]:
    """Tokens without stop words: what the grounding overlap compares."""
    return [t for t in tokens(text) if t not in STOPWORDS]


def contains_phrase(haystack: list[str], needle: list[str]) -> bool:
    """True when `needle` occurs as a contiguous run of tokens in `haystack`."""
    if not needle:
        return False
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def coverage(part: str, whole: str) -> float:
    """Share of `part`'s content tokens that occur in `whole` (0 when `part` has none).

    For scripts without spaces (Chinese, Japanese, Thai) a token is a whole run of characters,
    so a run is also counted when it occurs inside `whole`'s normalised text.
    """
    toks = content_tokens(part)
    if not toks:
        return 0.0
    whole_toks = set(content_tokens(whole))
    whole_text = normalize_answer(whole)
    hits = sum(1 for t in toks if t in whole_toks or (not t.isascii() and t in whole_text))
    return hits / len(toks)


def is_correct(prediction: str, answers: Iterable[str]) -> bool:
    """BLEnD-style matching: a normalised human answer occurs in the (first line of the)
    prediction. The one rule the BLEnD evaluations and the evidence ranker's fitting share."""
    first = prediction.strip().split("\n", 1)[0]
    pred_tokens = tokens(first)
    pred_text = normalize_answer(first)
    for answer in answers:
        ans = tokens(answer)
        if not ans:
            continue
        if contains_phrase(pred_tokens, ans):
            return True
        norm = " ".join(ans)
        if not norm.isascii() and norm in pred_text:  # scripts without spaces
            return True
    return False
