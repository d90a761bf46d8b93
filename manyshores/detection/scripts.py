"""Writing-system detection by Unicode block: fast, exact, and decisive for many languages.

A statistical language identifier confuses close languages written in the same script (Assamese
and Bengali, Amharic and Tigrinya) and lacks some languages entirely; the script (plus a few
letters only one language uses, such as Assamese ৰ and ৱ) settles those cases.
"""

from __future__ import annotations

from collections import Counter

# (first code point, last code point, script name); checked in order.
_BLOCKS: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "Latin"),
    (0x0370, 0x03FF, "Greek"),
    (0x1F00, 0x1FFF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"),
    (0x0530, 0x058F, "Armenian"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0750, 0x077F, "Arabic"),
    (0xFB50, 0xFDFF, "Arabic"),
    (0xFE70, 0xFEFF, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"),
    (0x0A00, 0x0A7F, "Gurmukhi"),
    (0x0A80, 0x0AFF, "Gujarati"),
    (0x0B00, 0x0B7F, "Oriya"),
    (0x0B80, 0x0BFF, "Tamil"),
    (0x0C00, 0x0C7F, "Telugu"),
    (0x0C80, 0x0CFF, "Kannada"),
    (0x0D00, 0x0D7F, "Malayalam"),
    (0x0D80, 0x0DFF, "Sinhala"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Lao"),
    (0x0F00, 0x0FFF, "Tibetan"),
    (0x1000, 0x109F, "Myanmar"),
    (0x10A0, 0x10FF, "Georgian"),
    (0x1100, 0x11FF, "Hangul"),
    (0x1200, 0x139F, "Ethiopic"),
    (0x2D80, 0x2DDF, "Ethiopic"),
    (0x1780, 0x17FF, "Khmer"),
    (0x1800, 0x18AF, "Mongolian"),
    (0x3040, 0x309F, "Kana"),
    (0x30A0, 0x30FF, "Kana"),
    (0x3130, 0x318F, "Hangul"),
    (0x3400, 0x4DBF, "Han"),
    (0x4E00, 0x9FFF, "Han"),
    (0xF900, 0xFAFF, "Han"),
    (0xAC00, 0xD7AF, "Hangul"),
)

SCRIPT_LANGUAGE = {
    "Greek": "el",
    "Armenian": "hy",
    "Hebrew": "he",
    "Hangul": "ko",
    "Kana": "ja",
    "Ethiopic": "am",
    "Georgian": "ka",
    "Thai": "th",
    "Lao": "lo",
    "Khmer": "km",
    "Myanmar": "my",
    "Sinhala": "si",
    "Gurmukhi": "pa",
    "Gujarati": "gu",
    "Oriya": "or",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Tibetan": "bo",
}
"""Scripts that (in practice) belong to one registry language."""

ASSAMESE_LETTERS = frozenset("ৰৱ")
"""Letters of the Bengali–Assamese script used by Assamese and not by Bengali."""


def char_script(ch: str) -> str | None:
    """The script of one character, or None for digits, punctuation and unknown blocks."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    if cp < 0x41:
        return None
    if cp <= 0x024F:  # fast path: most text is Latin
        return "Latin"
    for lo, hi, name in _BLOCKS:
        if lo <= cp <= hi:
            return name
    return None


def script_counts(text: str) -> Counter[str]:
    """Letters per script (in the first 1000 characters)."""
    counts: Counter[str] = Counter()
    for ch in text[:1000]:  # the first thousand characters say which script it is
        script = char_script(ch)
        if script:
            counts[script] += 1
    return counts


def dominant_script(text: str) -> tuple[str | None, float]:
    """The most frequent script and its share of the letters (Kana wins over Han: Japanese)."""
    counts = script_counts(text)
    total = sum(counts.values())
    if not total:
        return None, 0.0
    if counts.get("Kana", 0) >= 2:
        # Japanese mixes Kana and Han; any real amount of Kana means Japanese.
        return "Kana", (counts["Kana"] + counts.get("Han", 0)) / total
    script, n = counts.most_common(1)[0]
    return script, n / total
