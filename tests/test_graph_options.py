"""Option questions through the graph: everyday options from the evidence in words, survey
shares worded as similar survey questions, and no shares without a culture."""

from __future__ import annotations

import re

import pytest

from manyshores.answers.option_phrases import OPTION_PHRASES
from tests.graph_fixtures import tiny_assistant

PERCENT = re.compile(r"\d\s?%")
SURVEY = "Options: Very important, Rather important, Not very important, Not at all important"


@pytest.fixture(scope="module")
def assistant(tiny_base, tmp_path_factory):
    return tiny_assistant(tiny_base, tmp_path_factory.mktemp("options"))


def test_everyday_options_are_weighed_against_what_people_said(assistant):
    r = assistant.invoke(
        "What time do people in Spain usually have dinner? Options: 13:00, 21:00, 07:00, 18:30",
        thread_id="dinner",
    )
    v = r.values
    assert v["task"]["options"] == ["13:00", "21:00", "07:00", "18:30"]
    assert v["short"] == "21:00" and v["choice"] == 1
    assert not PERCENT.search(v["answer"])
    assert v["answer"].startswith("In Spain, judging by what people there answered")
    assert "[1]" in v["answer"] and v["sources"][0]["ref"].startswith("blend:ESP#")
    assert v["wording"] == "related" and 0.25 < v["confidence"] <= 1.0
    record = v["evidence"][0]
    assert record["culture"] == "ESP"
    assert sorted(c["text"] for c in record["candidates"]) == sorted(v["task"]["options"])
    assert record["candidates"][0]["text"] == "21:00" and record["candidates"][0]["used"]
    assert abs(sum(v["option_probs"]) - 1.0) < 1e-6
    # The experts' weight beside the evidence is 0: their models were not run for nothing.
    assert "culture experts not run: people's answers score these everyday options" in v["notes"]
    assert not v.get("expert_answers") and v["experts"]


def test_everyday_options_in_the_askers_language(assistant):
    r = assistant.invoke(
        "¿Qué se come con la cerveza en España? Opciones: tapas, kimchi, sushi, tacos", "es"
    )
    v = r.values
    assert v["language"] == "es" and v["task"]["options"] == ["tapas", "kimchi", "sushi", "tacos"]
    assert v["answer"].startswith(("En España, a juzgar", "Ninguna de estas opciones"))
    assert v["short"] in v["task"]["options"] and not PERCENT.search(v["answer"])


def test_survey_shares_are_the_cultures_answers_to_similar_questions(assistant):
    r = assistant.invoke(f"I'm from Kenya. How important is family in your life? {SURVEY}", "ke")
    v = r.values
    assert {a["expert_id"] for a in v["expert_answers"]} == {"survey-memory"}
    assert v["answer"].startswith(
        "Among people in Kenya asked similar World Values Survey questions: "
    )
    assert "most common answer" not in v["answer"] and PERCENT.search(v["answer"])
    assert v["wording"] == "none" and v["confidence"] is None


def test_a_survey_question_with_no_culture_asks_for_one(assistant):
    r = assistant.invoke(
        "Wie wichtig ist Religion in Ihrem Leben? Optionen: Sehr wichtig, Ziemlich wichtig, "
        "Nicht sehr wichtig, Überhaupt nicht wichtig",
        "de",
    )
    v = r.values
    assert v["language"] == "de"
    assert v["answer"] == OPTION_PHRASES["de"].depends
    assert v["short"] == "" and not PERCENT.search(v["answer"])


def test_no_evidence_for_the_culture_says_so_without_shares(assistant):
    r = assistant.invoke(
        "What do people in Kenya usually eat with beer? Options: nyama choma, kimchi, tapas",
        "ke-beer",
    )
    v = r.values
    assert r.cultures[0]["id"] == "KEN"
    assert v["answer"].startswith("I have no information about this for Kenya.")
    # No evidence to score the options by: the experts' models ran (their pick is the guess).
    assert [a["expert_id"] for a in v["expert_answers"]] == ["persona:KEN"]
    assert v["short"] == "" and not PERCENT.search(v["answer"])


def test_survey_memory_close_by_accident_does_not_put_shares_on_everyday_options(assistant):
    # Survey memory's gate finds this close to "Do you agree that when a mother works for pay,
    # the children suffer?"; the options are jobs people in China named, not a survey's scale.
    r = assistant.invoke(
        "What job do parents most hope their children will pursue in China? Options: civil "
        "servant, trade company office worker, office work, medicine",
        "jobs",
    )
    v = r.values
    assert {a["expert_id"] for a in v["expert_answers"]} == {"survey-memory"}
    assert not PERCENT.search(v["answer"]) and v["wording"] == "related"
    assert v["short"] == "civil servant"
