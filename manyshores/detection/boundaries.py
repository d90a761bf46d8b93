"""How a name attaches to the text around it, by script: where a match may start and end.

Latin, Greek and Cyrillic names must start a word and may carry a short suffix (`Azərbaycanda`,
`Ελλάδας`, `Mexicans`); Arabic-script and Ethiopic names may carry the clitics those languages
attach (`بالجزائر`, `በኢትዮጵያ`); Korean names take particles (`한국에서`); Chinese, Japanese and
Thai names match anywhere. Text is lowered letter by letter (offsets stay those of the text) with
hyphens read as spaces (`Eid al-Fitr` = `Eid al Fitr`).
"""

from __future__ import annotations

from typing import Literal

from manyshores.detection.cues import CUE_KINDS
from manyshores.detection.scripts import char_script

Boundary = Literal["word", "arabic", "ethiopic", "indic", "hangul", "anywhere"]

MAX_SUFFIX = 4
"""Letters a Latin/Greek/Cyrillic name may carry after it (case endings, plural)."""

MIN_SURFACE = 4
"""Shorter names only match as whole words and only when written exactly (acronyms: UK, USA)."""
MIN_CUE = 3
"""Shorter cues are never matched (`yen`, `Eid` are; two letters are a code or a word)."""

_ARABIC_PREFIXES = frozenset({"و", "ب", "ل", "ف", "ك", "لل", "بال", "وال", "فال", "كال", "وب",
                              "ول", "در", "به", "از"})  # fmt: skip
"""Clitics (and, in, to, the, Persian در/به/از) written attached to an Arabic-script word."""
_ARABIC_SUFFIXES = frozenset({"ي", "ی", "ية", "يه", "ى", "ها", "يين", "يون", "يات", "ين", "ون"})
_ETHIOPIC_PREFIXES = frozenset({"በ", "ከ", "የ", "ለ", "ወ", "እ", "ስ", "ወደ", "እንደ"})
_HANGUL_PARTICLES = frozenset({"의", "에", "에서", "에서는", "에서의", "에선", "에는", "은", "는", "이", "가", "을",
                               "를", "과", "와", "으로", "로", "도", "만", "까지", "사람", "사람들",
                               "사람들은", "사람들이", "사람들의", "인", "인들", "인들은", "인들이", "식",
                               "산", "의료", "처럼", "보다", "이나", "나", "에게", "에서도", "에도", "적",
                               "적인", "정부", "문화", "요리", "음식", "은요", "는요", "에서는요",
                               "에는요", "에서요", "도요"})  # fmt: skip
"""What Korean attaches to a place name (particles, `사람` people, `식` style): `한국에서`; with
the polite `요` of a follow-up that names only the place (`북한은요?`)."""
_HANGUL_COUNTRIES = frozenset({"일본", "독일", "인도", "호주", "대만", "이란", "케냐", "페루"})
_INDIC = frozenset({"Bengali", "Devanagari", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu",
                    "Kannada", "Malayalam", "Sinhala", "Tibetan"})  # fmt: skip
_ANYWHERE = frozenset({"Han", "Kana", "Thai", "Lao", "Khmer", "Myanmar"})
_SENTENCE_END = frozenset(".!?。！？;:\n")
_OPENERS = frozenset(" \t\"'“‘«(¿¡[-")
_HYPHENS = {"-": " ", "\u2010": " ", "\u2011": " ", "’": "'"}
PLAIN_WORDS = "\u0590"
"""Words whose letters all come before this code point (Latin, Greek, Cyrillic, Armenian) hold
no name that starts inside them: the scan jumps over them."""


def lower_text(text: str) -> str:
    # Per-character lowering keeps offsets aligned (str.lower() can lengthen `İ`).
    out = []
    for ch in text:
        low = ch.lower()
        out.append(low if len(low) == 1 else ch)
    return "".join(out).translate(_TRANSLATE)


_TRANSLATE = str.maketrans(_HYPHENS)


def boundary_of(surface: str) -> Boundary:
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


def after_number(text: str, i: int) -> bool:
    """True when a number ends right before position `i` (`10,000 won`, `500₹`)."""
    j = i - 1
    while j >= 0 and text[j] == " ":
        j -= 1
    return j >= 0 and text[j].isdigit()


def at_sentence_start(text: str, i: int) -> bool:
    """True when position `i` starts a sentence (only openers and spaces before it)."""
    j = i - 1
    while j >= 0 and text[j] in _OPENERS:
        if text[j] == "\n":
            return True
        j -= 1
    return j < 0 or text[j] in _SENTENCE_END


def foreign_ok(surface: str) -> bool:
    if boundary_of(surface) == "hangul":
        return len(surface) >= 3 or surface.endswith("국") or surface in _HANGUL_COUNTRIES
    return len(surface) >= 4


def start_ok(boundary: Boundary, prefix: str) -> bool:
    if not prefix or boundary == "anywhere":
        return True
    if boundary == "arabic":
        return prefix in _ARABIC_PREFIXES
    if boundary == "ethiopic":
        return prefix in _ETHIOPIC_PREFIXES
    return False


def end_ok(surface: str, boundary: str, kind: str, low: str, end: int) -> bool:
    if not surface[-1:].isalnum():
        return True  # a symbol (`R$`, `€`) ends itself
    tail = 0
    while end + tail < len(low) and low[end + tail].isalpha():
        tail += 1
    if tail == 0 or boundary == "anywhere":
        return True
    if boundary == "hangul":
        return low[end : end + tail] in _HANGUL_PARTICLES
    if kind in CUE_KINDS or surface.isupper():
        return False
    if boundary == "arabic":
        return low[end : end + tail] in _ARABIC_SUFFIXES
    if boundary == "ethiopic":
        return tail <= 2
    if boundary == "indic":
        return tail <= 3
    return len(surface) > MIN_SURFACE and tail <= MAX_SUFFIX
