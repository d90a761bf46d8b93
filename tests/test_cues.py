"""Culture cues when no place is named: the open-data sources, the index, the posterior, the
person's own culture and the prior of a shared language (the real index and detector)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from manyshores.config import Settings
from manyshores.cultures import get_registry
from manyshores.detection import CultureDetector
from manyshores.detection.mentions import MentionIndex
from manyshores.detection.own import own_culture, speaker_word
from manyshores.detection.prebuilt import shared_index
from manyshores.eval.datasets.detect_cases import BLEND_CULTURES
from manyshores.state import CulturePosterior

BLEND = list(BLEND_CULTURES)


@pytest.fixture(scope="module")
def index() -> MentionIndex:
    return shared_index(get_registry())


@pytest.fixture(scope="module")
def detector() -> CultureDetector:
    return CultureDetector(settings=Settings()).load()


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _found(index: MentionIndex, text: str) -> dict[str, tuple[str, set[str]]]:
    return {m.surface: (m.kind, set(m.cultures)) for m in index.find(text)}


def _ranked(post: CulturePosterior) -> list[str]:
    return [c["id"] for c in post["cultures"]]


# ---------------------------------------------------------------- sources in the index
def test_festivals_come_from_the_holidays_package(index: MentionIndex) -> None:
    found = _found(index, "Chuseok, Diwali, Nowruz, Songkran, Enkutatash and Magh Bihu")
    assert found["Chuseok"] == ("festival", {"KOR", "PRK"})
    assert {"IND", "FJI", "GUY"} <= found["Diwali"][1]  # every country keeping it
    assert "IRN" in found["Nowruz"][1]
    assert found["Songkran"] == ("festival", {"THA"})  # `Songkran Festival` without `Festival`
    assert found["Enkutatash"] == ("festival", {"ETH"})  # `New Year (Enkutatash)`
    assert found["Magh Bihu"] == ("festival", {"IN-AS"})  # Assam's subdivision holiday
    # The reviewed names people use that the package lacks.
    assert _found(index, "Lebaran")["Lebaran"] == ("festival", {"IDN"})
    assert "IDN" in _found(index, "Eid Mubarak")["Eid Mubarak"][1]


def test_everyday_observances_are_no_festival_cue(index: MentionIndex) -> None:
    # Kept far beyond the countries whose public holiday they are.
    for text in ("Father's Day", "New Year's Eve", "Easter", "Children's Day", "Año Nuevo"):
        assert not any(m.kind == "festival" for m in index.find(f"What happens on {text}?"))
    # A festival one subdivision of Spain keeps (Ceuta) does not make Eid Spanish.
    assert "ESP" not in _found(index, "Eid al-Fitr")["Eid al-Fitr"][1]


def test_cities_come_from_geonames_with_words_guarded(index: MentionIndex) -> None:
    assert _found(index, "Is Guwahati expensive?")["Guwahati"] == ("city", {"IN-AS"})
    assert _found(index, "We moved to Bandung")["Bandung"] == ("city", {"ID-JB"})
    assert _found(index, "Tacos in Monterrey")["Monterrey"][1] == {"MEX"}
    # Shared names point at every city of that name, the largest first in its masses.
    cordoba = next(m for m in index.find("Food in Córdoba") if m.surface == "Córdoba")
    masses = dict(zip(cordoba.cultures, cordoba.masses, strict=True))
    assert masses["ARG"] == 1.0 and masses["ARG"] > masses["ESP"]
    # Names that are words: a town too small is left out; a city keeps its capital letter.
    assert "Of" not in _found(index, "Which Of these is it?")
    assert "nice" not in _found(index, "what a nice day in the park")
    nice = next(m for m in index.find("What do people eat in Nice?") if m.surface == "Nice")
    assert nice.kind == "city" and "en" in nice.word_in and nice.capital and not nice.initial
    assert next(m for m in index.find("Nice! What now?")).initial


def test_currencies_come_from_cldr(index: MentionIndex) -> None:
    found = _found(index, "It costs ₹500, 2,000 naira, 30 MXN or 10 pesos.")
    assert found["₹"][1] == {"IND", "BTN"}
    assert found["naira"] == ("currency", {"NGA"})
    assert found["MXN"] == ("currency", {"MEX"})
    assert {"MEX", "ARG", "COL"} <= found["pesos"][1]
    assert "TRY" not in _found(index, "I WILL TRY")  # a code that spells a word is left out


def test_dishes_come_from_the_bank_training_half_only(tmp_path: Path) -> None:
    from manyshores.detection.cues.bank_terms import bank_terms
    from manyshores.detection.cues.words import OrdinaryWords
    from manyshores.evidence.bank import is_eval_id

    train = next(f"q-{i}" for i in range(100) if not is_eval_id(f"q-{i}"))
    held = next(f"q-{i}" for i in range(100) if is_eval_id(f"q-{i}"))

    def row(qid: str, culture: str, answers: list[str]) -> dict[str, object]:
        return {"id": qid, "culture": culture, "language": "en", "question": "What snack?",
                "en_question": "What snack?", "annotations": [
                    {"answers": answers, "en_answers": answers, "count": 3}]}  # fmt: skip

    (tmp_path / "A.json").write_text(
        json.dumps([row(train, "GRC", ["bougatsa", "bread"]), row(held, "GRC", ["loukoumades"])])
    )
    (tmp_path / "B.json").write_text(json.dumps([row(train, "MEX", ["tamales", "bread"])]))
    terms = bank_terms(OrdinaryWords.load(), tmp_path)
    assert terms["bougatsa"].counts == {"GRC": 3.0} and terms["tamales"].counts == {"MEX": 3.0}
    assert terms["tamales"].languages == {"en"}  # the rows' language: a word of it
    assert "loukoumades" not in terms  # answered for an evaluated question id: unreachable
    assert "bread" not in terms  # both cultures give it: not distinctive
    assert "snack" not in terms  # a word of the questions


def test_the_scan_stays_fast(index: MentionIndex) -> None:
    text = "Diwali is coming. What sweets should I make for my family in Guwahati this year?"
    index.find(text)
    runs = []
    for _ in range(200):
        start = time.perf_counter()
        index.find(text)
        runs.append(time.perf_counter() - start)
    assert sorted(runs)[100] < 0.002  # well under a millisecond on an idle machine


# ---------------------------------------------------------------- the posterior
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Diwali is coming. What sweets should I make?", "IND"),
        ("What do people eat for Nowruz?", "IRN"),
        ("How is Chuseok celebrated?", "KOR"),
        ("What do families eat at Thanksgiving?", "USA"),
        ("How do people celebrate Lebaran?", "IDN"),
        ("What is Timkat?", "ETH"),
        ("How do I make bougatsa?", "GRC"),
        ("Can you go inside the Flame Towers?", "AZE"),
        ("How long is the waiting list for an NHS dentist?", "GBR"),
        ("How many naira is a plate of rice?", "NGA"),
    ],
)
def test_a_cue_names_the_culture(detector: CultureDetector, text: str, expected: str) -> None:
    post = detector.detect(_user(text))
    assert _ranked(post)[0] == expected
    kinds = {s["kind"] for s in post["signals"] if s["culture"] == expected}
    assert kinds & {"festival", "dish", "city", "currency", "landmark"}


def test_cues_weigh_below_a_named_place_and_above_the_language(
    detector: CultureDetector,
) -> None:
    # Greek is spoken in Greece; the festival is India's.
    assert _ranked(detector.detect(_user("Τι γλυκά φτιάχνουν για το Diwali;")))[0] == "IND"
    # A place named wins over a cue of another culture: the customs of that place.
    post = detector.detect(_user("¿Qué se come en Grecia en Semana Santa?"))
    assert _ranked(post)[0] == "GRC" and post["cultures"][0]["p"] > 0.9
    post = detector.detect(_user("What do people in London eat at Diwali?"))
    assert _ranked(post)[0] == "GBR"


def test_a_shared_cue_spreads_and_is_never_confident(detector: CultureDetector) -> None:
    for text in ("What do people do for Eid?", "What do families eat at Christmas?",
                 "What do people do on New Year's Eve?"):  # fmt: skip
        for cands in (None, BLEND):
            post = detector.detect(_user(text), candidates=cands)
            assert all(c["p"] < 0.5 for c in post["cultures"]), (text, cands)
    post = detector.detect(_user("What do people do for Eid?"))
    eid = {s["culture"] for s in post["signals"] if s["kind"] == "festival"}
    assert len(eid) > 5  # spread over the cultures that keep it


def test_topic_switch_after_three_turns(detector: CultureDetector) -> None:
    history = []
    for text in ("I live in the UK.", "What do people in the UK eat for breakfast?",
                 "What is the most popular sport in the UK?"):  # fmt: skip
        history += [{"role": "user", "content": text},
                    {"role": "assistant", "content": "In the United Kingdom: tea."}]  # fmt: skip
    moved = detector.detect([*history, *_user("And what do people eat for breakfast in Assam?")])
    assert _ranked(moved)[0] == "IN-AS"
    stayed = detector.detect([*history, *_user("And what do people eat for lunch?")])
    assert _ranked(stayed)[0] == "GBR"


# ---------------------------------------------------------------- the person's own culture
@pytest.mark.parametrize(
    ("own", "text"),
    [
        ("JPN", "What do we usually eat for breakfast?"),
        ("MEX", "What do we eat at Christmas?"),
        ("MEX", "¿Qué comemos en nuestra casa en Navidad?"),
        ("DEU", "Was essen wir bei uns zu Weihnachten?"),
        ("KOR", "우리는 설날에 무엇을 먹나요?"),
        ("IDN", "Apa yang kita makan saat lebaran di rumah?"),
        ("EGY", "ماذا نأكل عندنا في العيد؟"),
        ("FRA", "Qu'est-ce qu'on mange chez nous à Noël ?"),
    ],
)
def test_we_and_our_point_at_the_own_culture(
    detector: CultureDetector, own: str, text: str
) -> None:
    post = detector.detect(_user(text), profile={own: 1.0})
    assert _ranked(post)[0] == own and post["cultures"][0]["p"] >= 0.8
    assert any(s["kind"] == "own" and "points at you" in s["evidence"] for s in post["signals"])


def test_a_generic_question_is_asked_from_the_own_culture(detector: CultureDetector) -> None:
    from manyshores.answers.yours import own_topic, topic_label
    from manyshores.state import culture_in_play

    post = detector.detect(_user("What do people usually eat for breakfast?"), profile={"JPN": 1})
    assert _ranked(post)[0] == "JPN" and culture_in_play(post) and not post["ambiguous"]
    assert own_topic(post, "JPN")
    assert topic_label("JPN", post, "en") == "Japan (your culture)"
    assert topic_label("JPN", post, "es") == "Japón (tu cultura)"
    # Named in the message: the person's culture is still theirs, but not why it is in play.
    named = detector.detect(_user("What do people eat in Japan?"), profile={"JPN": 1.0})
    assert not own_topic(named, "JPN") and topic_label("JPN", named, "en") == "Japan"


@pytest.mark.parametrize(
    ("own", "text", "expected"),
    [
        ("JPN", "What do people in Kenya eat for breakfast?", "KEN"),
        ("MEX", "What do people eat for Diwali?", "IND"),
        ("DEU", "Wie feiert man Chuseok?", "KOR"),
        ("KOR", "What do we eat in Mexico at Christmas?", "MEX"),
    ],
)
def test_another_culture_named_or_implied_wins(
    detector: CultureDetector, own: str, text: str, expected: str
) -> None:
    assert _ranked(detector.detect(_user(text), profile={own: 1.0}))[0] == expected


def test_own_culture_from_a_profile() -> None:
    assert own_culture({"JPN": 1.0}) == "JPN"
    assert own_culture({"KEN": 0.6, "TZA": 0.4}) == "KEN"  # a stored profile's clear lead
    assert own_culture({"KEN": 0.4, "TZA": 0.35, "UGA": 0.25}) is None
    assert own_culture(None) is None
    assert speaker_word("What do we eat?", "en") == "we"
    assert speaker_word("Flights to the US", "en") is None  # the country, not `us`
    assert speaker_word("¿Qué comen en Japón?", "es") is None


def test_the_stated_culture_leads_a_stored_profile() -> None:
    from langchain_core.messages import HumanMessage

    from manyshores.nodes.detect import make_detect
    from tests.fakes import FakeDetector

    class Profiles:
        def get(self, user_id: str) -> dict[str, float]:
            return {"KEN": 1.0}

        def record(self, user_id: str, cultures: object) -> None:
            return None

    class Parts:
        settings = Settings()
        detector = FakeDetector()

        def get_detector(self) -> FakeDetector:
            return self.detector

        def get_profiles(self) -> Profiles:
            return Profiles()

    parts = Parts()
    node = make_detect(parts)  # type: ignore[arg-type]
    node({"messages": [HumanMessage("What do we eat?")], "user_id": "u", "user_culture": "JPN"})
    profile = parts.detector.calls[-1]["profile"]
    assert own_culture(profile) == "JPN" and profile["KEN"] < profile["JPN"]


# ---------------------------------------------------------------- a shared language
@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("Was isst man normalerweise zum Frühstück?", ["DEU", "AUT", "LIE"]),
        ("What do people usually eat for breakfast on weekdays?", ["USA", "GBR", "BHS"]),
        ("¿Qué se come normalmente en el desayuno?", ["MEX", "ESP", "GNQ"]),
        ("ماذا يأكل الناس عادة في الفطور؟", ["EGY", "SAU", "BHR"]),
    ],
)
def test_a_shared_language_ranks_by_speakers_and_stays_ambiguous(
    detector: CultureDetector, text: str, order: list[str]
) -> None:
    post = detector.detect(_user(text))
    p = {c["id"]: c["p"] for c in post["cultures"]}
    assert post["ambiguous"] and max(p.values()) < 0.5
    assert _ranked(post)[0] == order[0]
    full = {s["culture"]: s["weight"] for s in post["signals"] if s["kind"] == "language"}
    credits = [full.get(c, 0.0) for c in order]
    assert credits == sorted(credits, reverse=True) and credits[0] > credits[-1]
