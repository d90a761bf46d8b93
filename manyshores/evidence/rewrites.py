"""English rewrites of bank questions that keep what they ask (fitting data for the match rule).

The bank holds each question in one English wording, so it shows the match rule no English
paraphrase of its own. These rewrites stand in for the ways people ask the same thing: another
word for "usually" or "popular", "Which X is the most popular?" for "What is the most popular
X?", the answer-format instruction left out. They never change the words that make a question
a different one (breakfast / dinner, men / women): those are what the rule must learn to heed.
"""

from __future__ import annotations

import random
import re

SWAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\busually\b", ("typically", "normally", "generally", "")),
    (r"\btypically\b", ("usually", "normally", "")),
    (r"\bcommonly\b", ("usually", "often", "typically")),
    (r"\bcommon\b", ("typical", "usual", "popular")),
    (r"\bpopular\b", ("loved", "well-liked", "common", "favourite")),
    (r"\bpeople\b", ("folks", "locals", "most people", "the people")),
    (r"\bchildren\b", ("kids",)),
    (r"\bkids\b", ("children",)),
    (r"\bWhat\b", ("Which",)),
    (r"\beat\b", ("have",)),
    (r"\bhave\b", ("eat", "take")),
    (r"\bserved\b", ("offered",)),
    (r"\boffered\b", ("served",)),
    (r"\bduring\b", ("at", "for")),
    (r"\bcelebrate\b", ("mark",)),
    (r"\bfamous\b", ("well-known", "popular")),
    (r"\bat what time\b", ("when",)),
    (r"\bWhen\b", ("At what time",)),
)
"""A pattern and the words that may stand in for it."""

_FORMAT = re.compile(r"\s*\((?:Provide|Please)[^)]*\)[^?]*")
_MOST = re.compile(r"What is the most (popular|common|famous) (.+?)\?$")


def rewrite(question: str, rng: random.Random) -> str:
    """One rewrite of an English `question` (its place names already stripped)."""
    text = _FORMAT.sub("", question).strip() if rng.random() < 0.7 else question
    most = _MOST.match(text)
    if most and rng.random() < 0.6:
        what, thing = most.group(1), most.group(2)
        return rng.choice(
            (
                f"Which {thing} is the most {what}?",
                f"Which {thing} do people like most?",
                f"Name the most {what} {thing}.",
            )
        )
    swaps = [s for s in SWAPS if re.search(s[0], text, re.I)]
    rng.shuffle(swaps)
    for pattern, words in swaps[: rng.choice((1, 2, 3))]:
        text = re.sub(pattern, rng.choice(words), text, count=1, flags=re.I)
    text = " ".join(text.split()).replace(" ?", "?")
    return text[:1].upper() + text[1:]
