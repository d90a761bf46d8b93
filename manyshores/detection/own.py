"""The person's own culture: which culture it is, and whether a message points at the speaker.

With an own culture known (`/culture Japan` in chat, `user_culture=`, or a stored profile whose
lead is clear) a question that names nothing is asked from that culture, and words that point
at the speaker ("we", "our", "here", "at home", "in my country", in the registry languages:
`manyshores/data/cultures/speaker_words.json`) make it the topic. The detector weighs both
(`detector`); a message that names or implies another culture still follows that one.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping

from manyshores.paths import PACKAGE_CULTURES

SPEAKER_WORDS = PACKAGE_CULTURES / "speaker_words.json"

OWN_MIN_WEIGHT = 0.5
"""A profile's lead culture is the person's own when it holds at least this weight (a stated
culture holds 1.0; a stored profile spread over several cultures names none)."""

_SPACELESS = re.compile(r"[\u0e00-\u0eff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
"""Thai, Lao, Kana, Han, Hangul: written without spaces between words (Korean particles
attach to the word), so their phrases match anywhere."""


def own_culture(profile: Mapping[str, float] | None) -> str | None:
    """The profile's lead culture when it holds at least `OWN_MIN_WEIGHT`, else None."""
    if not profile:
        return None
    culture, weight = max(profile.items(), key=lambda kv: (kv[1], kv[0]))
    return culture if weight >= OWN_MIN_WEIGHT else None


@functools.lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    raw = json.loads(SPEAKER_WORDS.read_text(encoding="utf-8"))
    out: dict[str, re.Pattern[str]] = {}
    for lang, phrases in raw.items():
        if lang.startswith("_"):
            continue
        parts = []
        for phrase in sorted(phrases, key=len, reverse=True):
            escaped = re.escape(phrase.lower()).replace(r"\ ", r"\s+")
            parts.append(escaped if _SPACELESS.search(phrase) else rf"(?<!\w){escaped}(?!\w)")
        out[lang] = re.compile("|".join(parts))
    return out


def speaker_word(text: str, lang: str | None) -> str | None:
    """The first word of `text` that points at the speaker, in the message's language (English
    too when that is unknown), or None. `US` in capitals is the country, not "us"."""
    patterns = _patterns()
    langs = [lang] if lang in patterns else []
    if lang is None or lang == "en" or not langs:
        langs.append("en")
    # Lowered letter by letter, so offsets stay those of `text` (`İ` lowers to two letters).
    low = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    for code in dict.fromkeys(langs):
        for match in patterns[code].finditer(low):
            written = text[match.start() : match.end()]
            if written.isupper() and len(written) <= 3 and written.isascii():
                continue  # `US`, `OUR` shouted: a code or a heading, not the speaker
            return written
    return None
