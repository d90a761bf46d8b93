"""Saying so when a reply answers for the person's own culture: "In Japan (your culture), …".

A question that names no culture, asked by someone whose own culture is known (`/culture`,
`user_culture=`, a stored profile), is answered for that culture; the reply names it as theirs,
so the person knows why this culture and can ask about another. Detection says when that is
the case: the culture carries the `own` signal and the message itself named nothing of it.
"""

from __future__ import annotations

from manyshores.answers.compose import culture_label
from manyshores.answers.phrases import PHRASES
from manyshores.state import CulturePosterior

YOUR_CULTURE: dict[str, str] = {
    "en": "{culture} (your culture)",
    "es": "{culture} (tu cultura)",
    "pt": "{culture} (a sua cultura)",
    "fr": "{culture} (votre culture)",
    "de": "{culture} (Ihre Kultur)",
    "ru": "{culture} (ваша культура)",
    "el": "{culture} (ο πολιτισμός σας)",
    "tr": "{culture} (sizin kültürünüz)",
    "az": "{culture} (sizin mədəniyyətiniz)",
    "id": "{culture} (budaya Anda)",
    "su": "{culture} (budaya anjeun)",
    "ha": "{culture} (al'adarku)",
    "sw": "{culture} (utamaduni wako)",
    "ar": "{culture} (ثقافتك)",
    "fa": "{culture} (فرهنگ شما)",
    "ko": "{culture}(당신의 문화)",
    "ja": "{culture}（あなたの文化）",
    "zh": "{culture}（您的文化）",
    "am": "{culture} (የእርስዎ ባህል)",
    "as": "{culture} (আপোনাৰ সংস্কৃতি)",
}
"""`{culture}` named as the reader's own, per reply language (English where a language has no
reply sentences); in brackets, so every sentence a name goes into still reads ("In Japan (your
culture), the most common answer is", "People in Japan (your culture) answered")."""

_FROM_MESSAGE = frozenset(
    {"explicit", "mention", "city", "festival", "dish", "currency", "landmark"}
)
"""Signal kinds that come from the message itself (or the caller naming the culture)."""


def own_topic(posterior: CulturePosterior | None, culture_id: str) -> bool:
    """True when `culture_id` is in play because it is the person's own culture: detection
    gave it the `own` signal and the message named nothing of it."""
    if not posterior:
        return False
    kinds = {s["kind"] for s in posterior.get("signals", []) if s["culture"] == culture_id}
    return "own" in kinds and not kinds & _FROM_MESSAGE


def topic_label(
    culture_id: str | None, posterior: CulturePosterior | None, lang: str | None
) -> str:
    """The culture's name for a reply (`culture_label`), as the reader's own culture when it
    is in play for that reason (`own_topic`)."""
    name = culture_label(culture_id, lang)
    if not culture_id or not own_topic(posterior, culture_id):
        return name
    code = (lang or "en").split("-")[0].lower()
    template = YOUR_CULTURE.get(code) if code in PHRASES else None
    return (template or YOUR_CULTURE["en"]).format(culture=name)
