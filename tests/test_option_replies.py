"""Option replies: shares only where a survey measured them, worded for what they are; everyday
options in words; an option question with no culture asks for one. In every reply language."""

from __future__ import annotations

import re

import pytest

from manyshores.answers.compose import survey_reply
from manyshores.answers.option_phrases import OPTION_PHRASES, option_phrases_for
from manyshores.answers.option_reply import (
    OptionLead,
    culture_needed_reply,
    estimate_reply,
    option_reply,
)
from manyshores.answers.phrases import PHRASES

SURVEY = ["Very important", "Rather important", "Not very important", "Not at all important"]
PERCENT = re.compile(r"\d\s?%")


def test_every_reply_language_has_option_sentences() -> None:
    assert set(OPTION_PHRASES) == set(PHRASES)
    for lang, o in OPTION_PHRASES.items():
        for name in ("likely", "closest", "survey_similar", "survey_own", "estimate"):
            assert "{culture}" in getattr(o, name), (lang, name)
        assert "{question}" in o.said, lang
        assert "{" not in o.depends and "{" not in o.also, lang
        assert not PERCENT.search(" ".join(vars(o).values())), lang
    assert option_phrases_for("xx") is OPTION_PHRASES["en"]
    assert option_phrases_for("pt-BR") is OPTION_PHRASES["pt"]


def test_survey_shares_are_worded_as_similar_survey_questions() -> None:
    reply = survey_reply("Kenya", SURVEY, [0.45, 0.30, 0.15, 0.10], "en")
    assert reply.text.startswith(
        "Among people in Kenya asked similar World Values Survey questions: "
        "“Very important” (45%); “Rather important” (30%)"
    )
    assert "most common answer" not in reply.text
    assert reply.short == "Very important"
    own = survey_reply("Kenya", SURVEY, [0.45, 0.30, 0.15, 0.10], "en", basis="own")
    assert own.text.startswith("How people in Kenya answered this World Values Survey question")


@pytest.mark.parametrize("lang", sorted(PHRASES))
def test_survey_reply_in_every_language(lang: str) -> None:
    reply = survey_reply("X-land", SURVEY, [0.1, 0.6, 0.2, 0.1], lang)
    assert "X-land" in reply.text and "(60%)" in reply.text
    assert reply.text.startswith(OPTION_PHRASES[lang].survey_similar.split("{culture}")[0])
    assert reply.short == "Rather important"


@pytest.mark.parametrize("lang", sorted(PHRASES))
def test_no_culture_means_no_shares_and_a_question_back(lang: str) -> None:
    reply = survey_reply("", SURVEY, [0.45, 0.30, 0.15, 0.10], lang)
    assert reply.text == OPTION_PHRASES[lang].depends == culture_needed_reply(lang).text
    assert not PERCENT.search(reply.text) and reply.short == ""


def test_everyday_options_in_words_with_what_people_said() -> None:
    lead = OptionLead("What do people eat while watching soccer?", "tapas", True, cite=1)
    reply = option_reply("Spain", ["tapas", "kimchi", "nuts"], [0.5, 0.1, 0.4], lead, "en")
    assert reply.text == (
        "In Spain, judging by what people there answered to similar questions, the most likely "
        "option is: “tapas”. Also possible: “nuts”. Asked “What do people eat while watching "
        "soccer?”, people there said: “tapas” [1]."
    )
    assert reply.short == "tapas" and reply.answers == ["tapas", "nuts"]
    assert not PERCENT.search(reply.text)
    # Far less likely than the lead: not named; an answer-format instruction is not quoted.
    closest = OptionLead("When is dinner? (Provide in HH:MM format (e.g., 18:00).)", "21:00", False)
    reply = option_reply("Spain", ["20:00", "08:00"], [0.9, 0.1], closest, "en")
    assert reply.text.startswith("None of these options is among what people in Spain")
    assert "08:00" not in reply.text and "HH:MM" not in reply.text
    assert reply.text.endswith("“When is dinner?”, people there said: “21:00”.")


@pytest.mark.parametrize("lang", sorted(PHRASES))
def test_option_reply_in_every_language(lang: str) -> None:
    lead = OptionLead("Q?", "tapas", True, cite=2)
    reply = option_reply("X-land", ["tapas", "kimchi"], [0.7, 0.3], lead, lang)
    assert "“tapas”" in reply.text and "[2]" in reply.text and "X-land" in reply.text
    assert not PERCENT.search(reply.text)
    assert reply.text.endswith(PHRASES[lang].end.strip())


def test_no_evidence_says_so_and_marks_the_experts_pick_as_a_guess() -> None:
    reply = estimate_reply("Kenya", ["tapas", "kimchi"], [0.3, 0.7], "en")
    first, second = reply.text.split("\n")
    assert first == "I have no information about this for Kenya."
    assert second.startswith("A guess of models trained on survey answers from Kenya")
    assert second.endswith("“kimchi”.")
    assert reply.short == "" and not PERCENT.search(reply.text)


def test_a_surveys_scale_is_told_from_things_people_name() -> None:
    from manyshores.answers.option_reply import survey_scale_share

    assert survey_scale_share(["Very important", "Rather important", "Not at all important"]) == 1
    assert survey_scale_share(["Agree strongly", "Disagree"]) == 1
    assert survey_scale_share(["civil servant", "medicine", "office work"]) == 0
    assert survey_scale_share(["tapas", "Yes"]) == 0.5
    assert survey_scale_share([]) == 0
    # Numbers are a scale only as one, in order: "6, 8, 2, 3" are hours or ages.
    assert survey_scale_share([str(i) for i in range(1, 11)]) == 1
    assert survey_scale_share(["6", "8", "2", "3"]) == 0
