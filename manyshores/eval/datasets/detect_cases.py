"""Builds the culture-detection dev/test sets from BLEnD (`shared/data/blend/`).

BLEnD asks the same everyday-culture questions for 16 cultures, each in the local language and in
English, both naming the place. From them we build cases of these kinds (the `kind` field):

- `place_local`: the local-language question as written (it names the place in that language);
- `place_en`: the English question (names the place);
- `language_only`: the local question with every place removed, in a language that belongs to
  one of the 16 cultures (Assamese, Sundanese, Hausa, Amharic, ...);
- `shared_language`: the same for Spanish (ESP, MEX), Korean (KOR, PRK) and English (GBR, USA):
  genuinely ambiguous, so the label lists every culture sharing the language;
- `no_cue`: the English question with the place removed (for the 14 non-English cultures);
- `multi_turn`: the cue is in an earlier user turn, one or two turns back (a place or demonym in
  English or the local language, or — for languages tied to one culture — only the language of
  that turn); the last turn is a cue-free English question;
- `multi_turn_switch`: an earlier turn names another culture, the last one names the target.

Places are removed with the registry's own mention finder (whole words, with the preposition or
article in front: `in the UK`, `στην Ελλάδα`, `a Arewacin Najeriya`); a case is dropped when any
mention survives. Local questions that name no place (Persian `در کشور شما`, "in your country")
count as `language_only`. Question ids are split by a hash into `dev` and `test`, so the same
question never appears in both.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from manyshores.blend_files import blend_rows
from manyshores.cultures import CultureRegistry, get_registry
from manyshores.detection.mentions import PLACE_KINDS, Mention
from manyshores.detection.prebuilt import shared_index

BLEND_CULTURES = ("DZA", "IN-AS", "AZE", "CHN", "ETH", "GRC", "IDN", "IRN", "MEX", "PRK", "NGA",
                  "KOR", "ESP", "GBR", "USA", "ID-JB")  # fmt: skip
"""The 16 cultures of BLEnD, by this project's culture ids."""

SHARED_LANGUAGES = {"es": ("ESP", "MEX"), "ko": ("KOR", "PRK"), "en": ("GBR", "USA")}
"""Languages two BLEnD cultures share: without another cue either culture is right."""

KINDS = ("place_local", "place_en", "language_only", "shared_language", "no_cue", "multi_turn",
         "multi_turn_switch")  # fmt: skip

_LEADING_WORDS = frozenset(
    [
        "in",
        "of",
        "from",
        "at",
        "across",
        "throughout",
        "within",
        "around",
        "the",
        "northern",
        "southern",
        "western",
        "eastern",
        "north",
        "south",
        "west",
        "east",
        "en",
        "de",
        "del",
        "los",
        "las",
        "el",
        "la",
        "a",
        "al",
        "di",
        "ke",
        "dari",
        "ti",
        "dina",
        "ka",
        "di",
        "στην",
        "στη",
        "στο",
        "στον",
        "στις",
        "της",
        "του",
        "την",
        "σε",
        "في",
        "در",
        "از",
        "به",
        "در",
        "в",
        "во",
        "из",
        "da",
        "na",
        "cikin",
    ]
)
"""Words removed with a place right after them (`in the`, `στην`, Hausa `a`)."""

_CUE_TEMPLATES = (
    "I'm from {name}.",
    "I grew up in {name}.",
    "We live in {name}.",
    "My family is {demonym}.",
    "I'm asking about {name}.",
    "Let's talk about everyday life in {name}.",
)
_REPLIES = (
    "Sure, I'd be happy to help with that.",
    "Thanks for telling me. What would you like to know?",
    "Got it.",
    "Of course. Ask me anything.",
)
_FOLLOW_UPS = (
    "Thanks! One more question.",
    "Interesting.",
    "OK, I see.",
)
_DISPLAY = {"NGA": "Northern Nigeria"}
"""How the BLEnD culture is named in English cue sentences when it differs from the registry."""


def split_of(question_id: str) -> str:
    """`dev` or `test`, stable per question id (about half each)."""
    return "dev" if int(hashlib.md5(question_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


class PlaceRemover:
    """Removes every place mention (with its leading preposition) from a question."""

    def __init__(self, registry: CultureRegistry | None = None) -> None:
        # Cities are cues of the full index: removing places needs them too.
        self.index = shared_index(registry or get_registry())

    def find(self, text: str) -> list[Mention]:
        """The places (names, demonyms, cities) mentioned in `text`."""
        return self.index.find(text, PLACE_KINDS)

    def remove(self, text: str) -> str | None:
        """The text without places, or None when some mention survives."""
        out = text
        for _ in range(3):
            mentions = self.find(out)
            if not mentions:
                return _tidy(out)
            for m in reversed(mentions):
                out = _cut(out, m.start, m.end)
        return None if self.find(out) else _tidy(out)


def _cut(text: str, start: int, end: int) -> str:
    # Whole token: affixes attach to place names in many languages (অসমত, درایران, 한국에서).
    if not _is_cjk(text[start]):
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and (text[end].isalnum() or text[end] in "'’-"):
            end += 1
    else:
        if start > 0 and text[start - 1] in "在于從从":
            start -= 1
        if end < len(text) and text[end] in "的，,":
            end += 1
    # Then the preposition/article words right in front (up to two: `in the`).
    for _ in range(2):
        before = text[:start].rstrip()
        word_start = len(before)
        while word_start > 0 and not before[word_start - 1].isspace():
            word_start -= 1
        word = before[word_start:]
        if word and word.lower().strip("¿¡(") in _LEADING_WORDS:
            prefix = word[: len(word) - len(word.lstrip("¿¡("))]
            start = word_start + len(prefix)
        else:
            break
    return text[:start] + text[end:]


def _is_cjk(ch: str) -> bool:
    return "\u3040" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([?？؟,.;:!،])", r"\1", text)
    text = re.sub(r"^[\s,;:،]+", "", text)
    text = re.sub(r"([,،])\s*([?？؟.])", r"\2", text)
    return text.strip()


def _cue_sentence(registry: CultureRegistry, culture: str, rng: random.Random) -> str:
    c = registry.get(culture)
    name = _DISPLAY.get(culture, c.name)
    demonyms = c.demonyms.get("en", [])
    templates = [t for t in _CUE_TEMPLATES if "{demonym}" not in t or demonyms]
    template = rng.choice(templates)
    demonym = demonyms[0] if demonyms else ""
    sentence = template.format(name=name, demonym=demonym)
    return sentence.replace("in United", "in the United").replace("from United", "from the United")


def build_cases(
    blend_dir: Path,
    split: str = "dev",
    per_kind: int = 20,
    seed: int = 0,
    registry: CultureRegistry | None = None,
) -> list[dict[str, Any]]:
    """Detection cases of every kind, `per_kind` per culture and kind (fewer when short)."""
    registry = registry or get_registry()
    remover = PlaceRemover(registry)
    rng = random.Random(f"{seed}-{split}")
    rows = [r for r in blend_rows(blend_dir) if split_of(r["id"]) == split]
    by_culture: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_culture.setdefault(r["culture"], []).append(r)
    cases: list[dict[str, Any]] = []

    def emit(kind: str, culture: str, row: dict[str, Any], messages: list[dict[str, str]],
             label: Iterable[str], expect: str) -> None:  # fmt: skip
        cases.append({
            "id": f"{kind}:{culture}:{row['id']}",
            "messages": messages,
            "label": list(label),
            "kind": kind,
            "expect": expect,
            "culture": culture,
            "language": row["language"],
        })  # fmt: skip

    for culture in BLEND_CULTURES:
        pool = sorted(by_culture.get(culture, []), key=lambda r: r["id"])
        rng.shuffle(pool)
        counts = dict.fromkeys(KINDS, 0)
        lang = pool[0]["language"] if pool else ""
        shared = SHARED_LANGUAGES.get(lang)
        others = [c for c in BLEND_CULTURES if c != culture]
        for row in pool:
            local, english = row["question"].strip(), row["en_question"].strip()
            names_place = any(culture in m.cultures for m in remover.find(local))
            if names_place and counts["place_local"] < per_kind:
                counts["place_local"] += 1
                emit("place_local", culture, row, [_user(local)], [culture], "culture")
            elif counts["place_en"] < per_kind:
                counts["place_en"] += 1
                emit("place_en", culture, row, [_user(english)], [culture], "culture")
            local_bare = remover.remove(local)
            en_bare = remover.remove(english)
            if local_bare:
                kind = "shared_language" if shared else "language_only"
                if counts[kind] < per_kind:
                    counts[kind] += 1
                    label = shared or (culture,)
                    emit(kind, culture, row, [_user(local_bare)], label,
                         "ambiguous" if shared else "culture")  # fmt: skip
            if en_bare and lang != "en" and counts["no_cue"] < per_kind:
                counts["no_cue"] += 1
                emit("no_cue", culture, row, [_user(en_bare)], [culture], "unknown_or_ambiguous")
            if en_bare and counts["multi_turn"] < per_kind:
                counts["multi_turn"] += 1
                draw = rng.random()
                if draw < 0.4:
                    cue = _cue_sentence(registry, culture, rng)
                elif draw < 0.6 and names_place:
                    cue = local
                elif draw >= 0.8 and local_bare and not shared:
                    cue = local_bare  # only the language of the earlier turn tells
                else:
                    cue = english
                messages = [_user(cue), _assistant(rng.choice(_REPLIES))]
                if rng.random() < 0.4:  # two turns back
                    messages += [_user(rng.choice(_FOLLOW_UPS)), _assistant(rng.choice(_REPLIES))]
                messages.append(_user(en_bare))
                emit("multi_turn", culture, row, messages, [culture], "culture")
            if counts["multi_turn_switch"] < per_kind and rng.random() < 0.5:
                counts["multi_turn_switch"] += 1
                other = rng.choice(others)
                messages = [
                    _user(_cue_sentence(registry, other, rng)),
                    _assistant(rng.choice(_REPLIES)),
                    _user(english),
                ]
                emit("multi_turn_switch", culture, row, messages, [culture], "culture")
    return cases


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}
