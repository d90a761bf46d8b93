"""Follow-ups replace what they name — a place or a topic — and keep the rest, across chains,
in English, Spanish, Korean and Indonesian; and through the real graph on the tiny model."""

from __future__ import annotations

import pytest

from manyshores.detection.detector import CultureDetector
from manyshores.detection.follow_up import conversation_query, standalone_query
from tests.graph_fixtures import tiny_assistant

CHAINS = [
    # (messages, [(kind, words the question must hold, words it must not hold)] per follow-up)
    (
        [
            "I am from Greece. What do people eat at Easter?",
            "What about breakfast?",
            "And in Spain?",
        ],
        [
            ("topic", ["eat", "breakfast"], ["Easter"]),
            ("place", ["breakfast", "Spain"], ["Easter"]),
        ],
    ),
    (
        [
            "What do people in Nigeria usually eat for breakfast?",
            "What about in Greece?",
            "And for lunch?",
        ],
        [
            ("place", ["breakfast", "Greece"], ["Nigeria"]),
            ("topic", ["lunch", "Greece", "eat"], ["breakfast", "Nigeria"]),
        ],
    ),
    (
        ["¿Qué se come en Nochebuena en México?", "¿Y en España?", "¿Y en el desayuno?"],
        [
            ("place", ["Nochebuena", "España"], ["México"]),
            ("topic", ["desayuno", "España", "come"], ["Nochebuena"]),
        ],
    ),
    (
        ["한국에서는 설날에 무엇을 먹나요?", "추석에는요?", "북한은요?"],
        [
            ("topic", ["추석", "한국", "먹나요"], ["설날"]),
            ("place", ["추석", "북한"], ["한국", "설날"]),
        ],
    ),
    (
        [
            "Apa makanan khas Lebaran di Indonesia?",
            "Bagaimana dengan Idul Adha?",
            "Kalau di Jawa Barat?",
        ],
        [
            ("topic", ["Idul Adha", "makanan"], ["Lebaran"]),
            ("place", ["Idul Adha", "Jawa Barat"], ["Lebaran"]),
        ],
    ),
    (
        ["When do people eat dinner in the UK?", "And lunch?", "In the US?"],
        [("topic", ["lunch", "UK"], ["dinner"]), ("place", ["lunch", "US"], ["UK", "dinner"])],
    ),
]


@pytest.fixture(scope="module")
def places_in():
    return CultureDetector.from_settings().places_in


@pytest.mark.parametrize(("messages", "expected"), CHAINS)
def test_a_chain_of_follow_ups_keeps_what_none_replaced(places_in, messages, expected):
    for turn, (kind, holds, lacks) in enumerate(expected, start=1):
        read = conversation_query(messages[:turn], messages[turn], places_in)
        assert read.kind == kind, read
        for word in holds:
            assert word in read.query, (word, read.query)
        for word in lacks:
            assert word not in read.query, (word, read.query)


def test_what_is_not_a_follow_up(places_in):
    first = "What sport is most popular in Spain?"
    # A long message carries its own topic; a short question of its own is read after the last.
    own = standalone_query(first, "What do people in Greece usually eat at Easter time?", places_in)
    assert own.kind == "own"
    joined = standalone_query(first, "Is it expensive?", places_in)
    assert joined.kind == "joined" and joined.query == f"{first}\nIs it expensive?"
    assert standalone_query(None, "What about breakfast?", places_in).kind == "own"
    korean = "한국에서는 설날에 무엇을 먹나요?"
    assert standalone_query(korean, "맛있나요?", places_in).kind == "joined"  # "is it tasty?"
    # Options of an earlier question stay with it.
    read = conversation_query(
        ["How important is family? Options: Very, Rather"],
        "And in Kenya?",
        places_in,
        lambda t: t.split(" Options:")[0],
    )
    assert "Options" not in read.query and "Kenya" in read.query


@pytest.fixture(scope="module")
def assistant(tiny_base, tmp_path_factory):
    return tiny_assistant(tiny_base, tmp_path_factory.mktemp("follow-ups"))


GRAPH_CHAINS = [
    (
        "en",
        [
            "I am from Greece. What do people eat at Easter?",
            "What about breakfast?",
            "And in Spain?",
        ],
        ["GRC", "GRC", "ESP"],
        [None, "breakfast", "breakfast"],
        "Easter",
    ),
    (
        "es",
        ["¿Qué se come en Nochebuena en México?", "¿Y en España?", "¿Y en el desayuno?"],
        ["MEX", "ESP", "ESP"],
        [None, "Nochebuena", "desayuno"],
        None,
    ),
    (
        "ko",
        ["한국에서는 설날에 무엇을 먹나요?", "추석에는요?", "북한은요?"],
        ["KOR", "KOR", "PRK"],
        [None, "추석", "추석"],
        "설날",
    ),
]


@pytest.mark.parametrize(("lang", "messages", "cultures", "topics", "gone"), GRAPH_CHAINS)
def test_follow_ups_through_the_graph(assistant, lang, messages, cultures, topics, gone):
    thread = f"chain-{lang}"
    for text, culture, topic in zip(messages, cultures, topics, strict=True):
        result = assistant.invoke(text, thread_id=thread)
        v = result.values
        assert v["language"] == lang
        assert result.cultures[0]["id"] == culture, (text, result.cultures[:2])
        if topic is not None:
            assert topic in v["query"], v["query"]
            if gone:
                assert gone not in v["query"], v["query"]
        cited = [s for s in v["sources"] if s["ref"].startswith("blend:")]
        assert all(s["ref"].startswith(f"blend:{culture}#") for s in cited), cited
    # The topic named last is the one answered: the evidence drew on breakfast questions.
    if lang == "en":
        record = v["evidence"][0]
        used = [c["question"] for c in record["candidates"] if c["used"]]
        assert used and all("Easter" not in q for q in used)
        assert any("breakfast" in q for q in used), used
