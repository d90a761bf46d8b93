"""A short follow-up read as the question it stands for: it replaces what it names, a place or a
topic, and keeps the rest of the question it follows.

- "What about in Greece?" after "What do people in Nigeria eat for breakfast?" names a place:
  the topic stays ("What do people in Greece eat for breakfast?");
- "What about breakfast?" after "What do people eat at Easter?" names a topic: it takes the old
  topic's place ("What do people eat at breakfast?"), and the culture, which detection reads
  from the whole conversation, stays;
- a short question of its own ("Is it spicy?") is read after the question it follows.

The question followed is the previous turn's own standalone question, so a chain of follow-ups
keeps what none of them replaced. Word lists cover the languages the tests and the demo speak
(English, Spanish, Portuguese, French, German, Indonesian, Korean); in other languages a
follow-up is read after the previous question, as a short question of its own is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

FOLLOW_UP_WORDS = 5
"""A message of at most this many words after an earlier question may be a follow-up
("What about in Greece?", "And for lunch?"); a longer one carries its own topic."""

FollowUpKind = Literal["own", "place", "topic", "joined"]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of a word list."""
    return frozenset(text.split())


class Place(Protocol):
    """A place named in a text (`detection.mentions.Mention`)."""

    @property
    def start(self) -> int:
        """Offset of its first character."""
        ...

    @property
    def end(self) -> int:
        """Offset after its last character."""
        ...

    @property
    def surface(self) -> str:
        """The text as written."""
        ...


@dataclass(frozen=True)
class FollowUp:
    """The question a turn answers, standing alone, and how it was read."""

    query: str
    """The standalone question."""
    kind: FollowUpKind
    """`own`: the message itself; `place` / `topic`: a follow-up that replaced the previous
    question's place / topic; `joined`: the message read after the previous question."""


_OPENERS = re.compile(
    r"^\s*[¿¡]?\s*(?:(?:what|how)\s+about|and\s+what\s+about|and|or|also|then|so|ok(?:ay)?|"
    r"y\s+(?:qu[eé]\s+tal|qu[eé]\s+hay\s+de)|qu[eé]\s+tal|qu[eé]\s+hay\s+de|y|e|"
    r"e\s+(?:quanto\s+a|sobre)|et|et\s+pour|und|und\s+was\s+ist\s+mit|was\s+ist\s+mit|"
    r"bagaimana\s+dengan|kalau|lalu|그럼|그러면|그리고|그건)\b[\s,:]*",
    re.IGNORECASE,
)
"""How a follow-up that names only a place or a topic opens."""

_PREPOSITIONS = _words(
    """in at on for during of to from by with about
    en para durante de del con a al por
    em no na nos nas pelo pela do da
    au aux pour pendant du des à
    im am zum zur für bei
    di pada untuk saat ketika"""
)
"""Words that open the phrase a topic sits in ("for breakfast", "en Nochebuena")."""

_ARTICLES = _words("""the a an el la los las un una le les der die das den o os as""")
"""Articles before a topic word, replaced with it."""
_FRAME = _words(
    """what which who whom whose where when why how do does did is are was were be been am the a
    an people person someone everyone usually typically commonly often generally normally mostly
    most more common popular traditional typical main usual there their they them we us our you
    your i my me it its this that these those can could would should will may might have has had
    and or not some any many much eat eaten drink drunk celebrate celebrated give given wear worn
    cook cooked serve served make made buy bought go goes play played food foods dish dishes meal
    meals thing things kind kinds type types day days time times
    qué que cuál cuáles quién quiénes dónde cuándo cómo se es son la el las los un una unos unas
    gente personas suele suelen normalmente típicamente más común comunes popular populares
    típico típica come comen bebe beben celebra celebran hace hacen y o lo le les su sus
    o os um uma pessoas costuma costumam mais comum comem bebem
    quoi quel quelle quels quelles qui où quand comment le les un une des on mange boit fait
    les gens d habitude plus
    was welche welcher welches wer wo wann wie ist sind der die das ein eine man isst trinkt
    leute menschen meistens
    apa siapa mana kapan bagaimana yang orang biasanya paling populer umum makan minum"""
)
"""Words of a question's frame (question words, people, usually, eat…): never its topic."""

_WORD = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KO_ENDING = re.compile(r"(?:(?:이|이에|이예)?요)?[?.!？]*$")
_KO_PARTICLES = (
    "에서는", "에서도", "에서", "에는", "에도", "에", "으로는", "으로", "로는", "로", "은", "는",
    "이", "가", "을", "를", "의", "도", "와", "과", "때는", "때",
)  # fmt: skip
"""Korean particles, longest first: `설날에` is the topic `설날` and the particle `에`."""
_KO_FRAME = _words(
    """무엇을 무엇이 무엇 뭐 뭘 뭐가 어떤 어떻게 언제 어디서 어디 누가 가장 보통 주로 흔히 많이
    사람들은 사람들이 사람들 사람 인기 있는 그럼 그러면 그리고"""
)


def _ko_split(token: str) -> tuple[str, str]:
    """(stem, particle) of a Korean word (`추석에는요` → `추석`, `에는`)."""
    token = _KO_ENDING.sub("", token)
    if token in _KO_PARTICLES:
        return "", token
    for particle in _KO_PARTICLES:
        if token.endswith(particle) and len(token) > len(particle):
            return token[: -len(particle)], particle
    return token, ""


def _without(text: str, places: Sequence[Place]) -> str:
    for p in sorted(places, key=lambda p: -p.start):
        text = text[: p.start] + " " + text[p.end :]
    return text


def _replace_places(previous: str, old: Sequence[Place], new: str) -> str | None:
    """`previous` with each place it names replaced by `new` (None when it names none)."""
    if not old:
        return None
    out = previous
    for p in sorted(old, key=lambda p: -p.start):
        out = out[: p.start] + new + out[p.end :]
    return out


def _add_place(previous: str, rest: str, place: Place, korean: bool) -> str:
    """`previous`, which names no place, asked about `place` ("What do people eat at breakfast?"
    + "And in Spain?" → "What do people eat at breakfast in Spain?")."""
    if korean:
        return f"{place.surface}에서는 {previous}"
    before = _WORD.findall(rest[: place.start])
    lead = f"{before[-1]} " if before and before[-1].lower() in _PREPOSITIONS else ""
    body = previous.rstrip()
    mark = body[-1] if body[-1:] in ("?", "？") else ""
    return f"{body.rstrip('?？ ')} {lead}{place.surface}{mark}"


def _topic_tokens(rest: str, korean: bool) -> list[str]:
    """The words of a follow-up (opener and places removed) that name a topic."""
    words = _WORD.findall(rest)
    if korean:
        return [s for s, _ in map(_ko_split, words) if s and s not in _KO_FRAME]
    return [w for w in words if w.lower() not in _FRAME and w.lower() not in _PREPOSITIONS]


def _spans(previous: str, places: Sequence[Place]) -> list[tuple[int, int, str]]:
    """(start, end, word) of the previous question's words outside the places it names."""
    inside = [(p.start, p.end) for p in places]
    return [
        (m.start(), m.end(), m.group())
        for m in _WORD.finditer(previous)
        if not any(s < m.end() and m.start() < e for s, e in inside)
    ]


def _swap_topic(previous: str, places: Sequence[Place], topic: str, korean: bool) -> str | None:
    """`previous` with its topic replaced by `topic` (the follow-up's words after its opener),
    or None when no topic can be found in it."""
    words = _spans(previous, places)
    if korean:
        stem, particle = _ko_split(topic.split()[-1]) if topic.split() else ("", "")
        new = " ".join([*topic.split()[:-1], stem])
        # The word that takes the same particle, else the last one before the predicate.
        candidates = [w for w in words[:-1] if _ko_split(w[2])[0] not in _KO_FRAME]
        same = [w for w in candidates if _ko_split(w[2])[1] == particle and particle]
        chosen = (same or candidates)[-1:] if new else []
        if not chosen:
            return None
        start, end, word = chosen[0]
        return previous[:start] + new + _ko_split(word)[1] + previous[end:]
    first = topic.split()[0].lower() if topic.split() else ""
    lead = first if first in _PREPOSITIONS else ""
    content = [w for w in words if w[2].lower() not in _FRAME and w[2].lower() not in _PREPOSITIONS]
    if lead:
        # The phrase opened by the same preposition ("for breakfast" ← "for lunch").
        for i, (start, _, word) in enumerate(words):
            if word.lower() == lead and i + 1 < len(words):
                tail = [w for w in words[i + 1 :] if w[2].lower() not in _PREPOSITIONS]
                if tail and tail[0] in content:
                    end = _phrase_end(words, i + 1)
                    return previous[:start] + topic + previous[end:]
    if not content:
        return None
    start, end, _ = content[-1]
    before = [w for w in words if w[1] <= start]
    while before and before[-1][2].lower() in _ARTICLES:
        start = before.pop()[0]  # "el desayuno" gives way to "el almuerzo" whole
    if lead and before and before[-1][2].lower() in _PREPOSITIONS:
        start = before[-1][0]  # "at Easter" gives way to "for dinner" whole
    return previous[:start] + topic + previous[end:]


def _phrase_end(words: list[tuple[int, int, str]], i: int) -> int:
    """End of the phrase whose first word is `words[i]`: up to the next preposition."""
    end = words[i][1]
    for _, stop, word in words[i + 1 :]:
        if word.lower() in _PREPOSITIONS or word.lower() in _FRAME:
            break
        end = stop
    return end


def standalone_query(
    previous: str | None, text: str, places_in: Callable[[str], Sequence[Place]]
) -> FollowUp:
    """The question `text` asks, read after `previous` (the previous turn's standalone
    question, None on a first turn); `places_in` finds the places a text names."""
    if not previous or len(text.split()) > FOLLOW_UP_WORDS:
        return FollowUp(text, "own")
    # "I am from Greece. What do people eat at Easter?": the question is what a follow-up
    # continues (the culture stated beside it is detection's to keep).
    previous = _last_question(previous)
    korean = bool(_HANGUL.search(text))
    opened = _OPENERS.match(text)
    rest = text[opened.end() :] if opened else text
    places = list(places_in(rest))
    topic_words = _topic_tokens(_without(rest, places), korean)
    if korean:  # "추석에는요?", "떡국이요?" (a noun) or a place; not "맛있나요?" (a verb)
        last = rest.split()[-1].rstrip("?.!？") if rest.split() else ""
        framed = bool(opened or places or _ko_split(last)[1] or last.endswith("이요"))
    else:
        framed = bool(opened) or not _starts_a_question(rest)
    if not framed:
        return FollowUp(f"{previous}\n{text}", "joined")
    old_places = list(places_in(previous))
    query = previous
    if places:
        query = _replace_places(previous, old_places, places[0].surface) or _add_place(
            previous, rest, places[0], korean
        )
        old_places = list(places_in(query))
    if topic_words:
        topic = " ".join(_without(rest, places).split()).strip(" ?¿!¡.,;:？")
        swapped = _swap_topic(query, old_places, topic, korean)
        if swapped is None:
            return FollowUp(text, "own")  # no old topic to replace: the follow-up's own words
        return FollowUp(swapped, "topic")
    if not places:
        return FollowUp(f"{previous}\n{text}", "joined")
    return FollowUp(query, "place")


_SENTENCES = re.compile(r"(?<=[.!?。！？])\s+")


def _last_question(text: str) -> str:
    """The last sentence of `text` that asks something (the whole text when none does)."""
    parts = [p for p in _SENTENCES.split(text.strip()) if p.strip()]
    asked = [p for p in parts if p.rstrip().endswith(("?", "？", "؟"))]
    return asked[-1] if asked else text


_QUESTION_START = re.compile(
    r"^\s*[¿¡]?\s*(?:what|which|who|whom|whose|where|when|why|how|is|are|was|were|do|does|did|"
    r"can|could|would|will|should|qu[eé]|cu[aá]l|qui[eé]n|d[oó]nde|cu[aá]ndo|c[oó]mo|por\s+qu[eé]|"
    r"es|son|est|sind|ist|apa|siapa|kapan|mengapa)\b",
    re.IGNORECASE,
)


def _starts_a_question(text: str) -> bool:
    """True when `text` is a question of its own (a question word or an auxiliary opens it)."""
    return bool(_QUESTION_START.match(text))


MAX_CHAIN = 8
"""Earlier user messages a follow-up is read through (older ones have been replaced by then)."""


def conversation_query(
    earlier: Sequence[str],
    text: str,
    places_in: Callable[[str], Sequence[Place]],
    question_of: Callable[[str], str] = lambda t: t,
) -> FollowUp:
    """The question `text` asks after the user's `earlier` messages (oldest first): each earlier
    message is read after the ones before it, so a chain of follow-ups keeps what none of them
    replaced. `question_of` strips a message's answer options (they belong to that turn)."""
    previous: str | None = None
    for message in earlier[-MAX_CHAIN:]:
        asked = question_of(message).strip()
        if asked:
            previous = standalone_query(previous, asked, places_in).query
    return standalone_query(previous, text, places_in)
