"""Replies a person reads: loop and sentence rules, evidence and survey replies, input checks."""

from __future__ import annotations

import os

import pytest

from manyshores.answers.compose import (
    CitedAnswer,
    EvidencePart,
    culture_label,
    evidence_reply,
    no_evidence_reply,
    survey_reply,
)
from manyshores.answers.evidence_phrases import EVIDENCE_PHRASES, evidence_phrases_for
from manyshores.answers.hygiene import CleanStream, clean_reply, end_at_sentence, has_loop
from manyshores.answers.phrases import PHRASES, phrases_for
from manyshores.content import check_message_text
from manyshores.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nowruz Nowruz Nowruz Nowruz Nowruz Nowruz Nowruz Nowruz", "Nowruz."),
        ("Τρώμε αρνί το Πάσχα. Τρώμε αρνί το Πάσχα. Τρώμε αρνί το Πάσχα.", "Τρώμε αρνί το Πάσχα."),
        ("春节吃饺子。春节吃饺子。春节吃饺子。春节吃饺子。", "春节吃饺子。"),
        ("It is good. I think so. And then", "It is good. I think so."),
        ("Chicken and banana, made with", "Chicken and banana, made with."),
        ("Tea with milk\ufffd", "Tea with milk."),
    ],
)
def test_clean_reply_cuts_loops_broken_characters_and_half_sentences(text, expected):
    cleaned = clean_reply(text)
    assert cleaned == expected
    assert not has_loop(cleaned)
    assert "\ufffd" not in cleaned


STREAMED = [
    "Nowruz Nowruz Nowruz Nowruz Nowruz Nowruz Nowruz Nowruz",
    "In winter, the world is a cold and dark place. I am a cold and dark place, a cold and dark",
    "It is good. I think so. And then",
    "Yes. Chai and uji are common in Kenya for breakfast with bread and",
    "Prices rose 2.5 percent, e.g. in Spain. Then they fell. Then they fell. Then they fell.",
    "春节吃饺子。春节吃饺子。春节吃饺子。",
    'He said "yes." She said "no." They left',
    "Tea with milk\ufffd and sugar. Bread",
    # Long first sentences, shown before they end: loops, stutters, commas, abbreviations.
    "To fix a slipping chain, first check whether the chain is worn, then clean it, oil it, "
    "and adjust the derailleur so that it sits straight. Then ride.",
    "The chain is the part that moves the bike and the chain is the part that moves the bike "
    "and the chain is the part that moves",
    "First you need to take the wheel off the bike and then you will see the the the the the",
    "Check the chain tension with a ruler, e.g. by pulling it, and tighten the rear wheel so "
    "that it does not slip.",
    "You should look at the chain and the gears on your bike carefully, —",
    "One two three four five six seven eight nine ten eleven twelve thirteen\nfourteen. Done.",
    "Clean the chain, clean the chain, clean the chain, clean the chain and the gears today.",
    "El Día de Muertos es un paíse de la historia de la que es más importante que la que es "
    "más grande y la que es más bonita",
    # A later sentence naming one list item twice ends the reply; the first sentence never does.
    "Families usually eat breakfast together. The most popular choices are scrambled eggs, "
    "bacon, sausage, and bacon. They might also have pancakes.",
    "Breakfast is tea, bread, and tea with milk on most days of the week in many homes. Done.",
]


@pytest.mark.parametrize("text", STREAMED)
def test_streamed_reply_is_the_clean_reply_however_the_text_arrives(text):
    import random

    rng = random.Random(len(text))
    for _ in range(20):
        stream, released, i = CleanStream(), [], 0
        while i < len(text):
            step = rng.randint(1, 6)
            released.append(stream.feed(text[i : i + step]))
            i += step
        released.append(stream.finish())
        # What was shown while generating is never taken back: the pieces are the reply.
        assert "".join(released).strip() == clean_reply(text)
    assert not has_loop(clean_reply(text))


def test_a_long_first_sentence_is_shown_before_it_ends():
    stream = CleanStream()
    words = "To fix a slipping chain first check whether the chain is worn and then clean it"
    shown = "".join(stream.feed(w + " ") for w in words.split())
    assert shown and words.startswith(shown) and len(shown.split()) >= 8
    # The last words are held back: a phrase being repeated may yet start there.
    assert len(shown.split()) <= len(words.split()) - 3
    rest = stream.feed("well. ") + stream.finish()
    assert shown + rest == words + " well."


def test_a_list_naming_one_thing_twice_ends_the_reply_before_it():
    text = (
        "Families usually eat breakfast together. The choices are scrambled eggs, bacon, "
        "sausage, and bacon. They might also have pancakes."
    )
    assert clean_reply(text) == "Families usually eat breakfast together."
    # Different items, a clause repeated in a longer part, or "yes" twice: not a repeated item.
    for fine in (
        "We eat well. Tea, coffee, and milk are common.",
        "We eat well. Yes, it is true, and yes, it is good.",
        "We eat well. People eat rice when it rains, and people eat rice when it is cold.",
    ):
        assert clean_reply(fine) == fine


def test_a_sentence_said_again_ends_the_streamed_reply():
    stream = CleanStream()
    assert stream.feed("We eat lamb. ") == "We eat lamb."
    assert stream.feed("We eat lamb. And eggs.") == ""
    assert stream.stopped and stream.finish() == ""


def test_loop_rule_counts_a_four_word_phrase_three_times():
    twice = "la que es más importante y la que es más grande."
    thrice = twice + " Y la que es más bonita."
    assert not has_loop(twice)
    assert has_loop(thrice)


def test_end_at_sentence_keeps_decimals_and_closing_quotes():
    assert end_at_sentence('He said "yes."') == 'He said "yes."'
    assert (
        end_at_sentence("Prices rose 2.5 percent and then") == "Prices rose 2.5 percent and then."
    )


def test_evidence_reply_leads_with_the_best_answer_and_cites_sources():
    answers = [CitedAnswer("bread and tea", (1,)), CitedAnswer("akara", (2,)),
               CitedAnswer("pap", (1,)), CitedAnswer("rice", (3,))]  # fmt: skip
    reply = evidence_reply([EvidencePart("Nigeria", answers, "answer")], "en")
    assert reply.short == "bread and tea"
    assert reply.answers == ["bread and tea", "akara", "pap"]  # at most three
    assert reply.text == (
        "People in Nigeria answered this question: bread and tea [1]. "
        "Other answers: akara [2]; pap [1]."
    )
    assert "rice" not in reply.text and "most common answer" not in reply.text


def test_a_related_reply_names_the_question_people_answered():
    question = "At what time do most people start work in Spain? (Provide in HH:MM format (e.g., 18:00, 09:00).)"  # fmt: skip
    answers = [CitedAnswer("09:00", (1,)), CitedAnswer("08:00", (2,))]
    reply = evidence_reply([EvidencePart("Spain", answers, "related", question)], "en")
    assert reply.text == (
        "I have no answers to exactly this for Spain. Asked “At what time do most people start "
        "work in Spain?”, people there most often said 09:00 [1]. "
        "Other answers to related questions: 08:00 [2]."
    )
    assert reply.short == "09:00" and reply.answers == ["09:00", "08:00"]
    # A lead that was not that question's most given answer is not said to be.
    one = evidence_reply([EvidencePart("Spain", answers, "related", question, first=False)], "en")
    assert "one answer people there gave was 09:00 [1]." in one.text
    assert "most often" not in one.text
    # Without a question to name, a reply can only say what people answered.
    assert evidence_reply([EvidencePart("Spain", answers, "related")], "en").text.startswith(
        "People in Spain answered this question: 09:00 [1]."
    )


@pytest.mark.parametrize("lang", sorted(EVIDENCE_PHRASES))
def test_every_reply_language_words_both_cases_as_whole_sentences(lang):
    p = EVIDENCE_PHRASES[lang]
    name = culture_label("MEX", lang)
    answers = [CitedAnswer("tamales", (1,)), CitedAnswer("pozole", (2,))]
    answer = evidence_reply([EvidencePart(name, answers, "answer")], lang).text
    related = evidence_reply([EvidencePart(name, answers, "related", "¿Qué se come?")], lang).text
    one = evidence_reply(
        [EvidencePart(name, answers, "related", "¿Qué se come?", first=False)], lang
    ).text
    assert one != related and "¿Qué se come?" in one
    assert answer.startswith(p.answer.split("{")[0]) and name in answer
    assert f"{p.quotes[0]}¿Qué se come?{p.quotes[1]}" in related and name in related
    assert answer != related
    for text in (answer, related, one):
        assert "tamales [1]" in text and "pozole [2]" in text
        assert "{" not in text and not has_loop(text)
        assert text.rstrip()[-1] in ".。।።"
    assert p is evidence_phrases_for(f"{lang}-XX")


def test_culture_names_are_in_the_replys_language():
    assert culture_label("GRC", "el") == "Ελλάδα"
    assert culture_label("MEX", "ko") == "멕시코" and culture_label("MEX", "zh") == "墨西哥"
    assert culture_label("NGA", "en") == "Nigeria"  # never the Hausa name in English
    assert culture_label("MEX", "xx") == "Mexico"  # no sentences in that language: English
    assert evidence_phrases_for("xx") is EVIDENCE_PHRASES["en"]
    assert phrases_for("xx") is PHRASES["en"]


def test_survey_reply_names_the_most_likely_option_with_shares():
    options = ["Very important", "Rather important", "Not very important", "Not at all important"]
    reply = survey_reply("Nigeria", options, [0.45, 0.30, 0.15, 0.10], "en")
    assert reply.short == "Very important"
    assert "“Very important” (45%)" in reply.text
    assert reply.text.index("Very important") < reply.text.index("Rather important")


def test_no_evidence_reply_says_so_and_marks_the_general_answer():
    reply = no_evidence_reply("Mexico", "People eat pan de muerto", "en")
    assert reply.text.splitlines()[0] == "I have no information about this for Mexico."
    assert "not specific to Mexico" in reply.text
    assert reply.short == ""
    neutral = no_evidence_reply(None, "Read a book", "en")
    assert "not specific to any culture" in neutral.text
    assert "no information" not in neutral.text
    # Citations are no words: numbers cited one after another are no stutter.
    assert not has_loop("La respuesta más común es: pop [2][3]. Otras: 2 [1]; 1 [1].")
    assert has_loop("1 1 1 1 1 1")
    # Twice in the model's text is no loop; the label's own words would make it three times.
    echoing = "It is not specific to Mexico. Food is not specific to Mexico"
    assert not has_loop(echoing) and has_loop(f"not specific to Mexico: {echoing}")
    dropped = no_evidence_reply("Mexico", echoing, "en")
    assert dropped.text == "I have no information about this for Mexico."


@pytest.mark.parametrize(
    "text",
    [
        os.urandom(2048).decode("latin-1"),
        os.urandom(2048).decode("utf-8", "replace"),
        "\x00binary\x00",
        "%$#@!" * 20,
    ],
)
def test_binary_or_symbol_messages_are_refused(text):
    with pytest.raises(InvalidInputError):
        check_message_text(text)


@pytest.mark.parametrize("text", ["2+2?", "설날에는 무엇을 먹나요?", "What about in Greece?"])
def test_real_questions_pass(text):
    assert check_message_text(text) == text


def test_times_and_citations_are_not_a_loop():
    reply = "在中国，最常见的回答是： 12:00 [1][3]。 其他常见回答： 13:00 [1]；17:00 [2][3]。"
    assert not has_loop(reply)


class _Detector:
    def language_of(self, text):
        return ("es", 0.9) if "hola" in text.lower() else ("en", 0.9)


def _components():
    from types import SimpleNamespace

    settings = SimpleNamespace(general_answer_languages=["en"])
    return SimpleNamespace(settings=settings, get_detector=lambda: _Detector())


RAINY = "What is a good way to spend a rainy Sunday afternoon?"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # An answer that restates the question before answering it is shown.
        (
            "A good way to spend a rainy Sunday afternoon is to enjoy a favorite book, "
            "a good book, or a good movie. Tea helps.",
            None,
        ),
        # One that only repeats the question is not.
        ("What is a good way to spend a rainy Sunday afternoon? A good way.", "echo"),
        ("Hola, una buena manera de pasar la tarde es leer un libro en casa.", "lang"),
    ],
)
def test_model_text_is_judged_alike_streamed_or_at_once(text, why):
    import random

    from manyshores.nodes.general_answer import ModelText, usable_model_text

    at_once, reason = usable_model_text(text, RAINY, "en", _components())
    assert (reason is None) == (why is None)
    if why == "echo":
        assert reason == "it repeats the question"
    if why == "lang":
        assert reason and "written in es" in reason
    assert at_once == (clean_reply(text) if why is None else "")
    rng = random.Random(7)
    for _ in range(10):
        model, shown, i = ModelText(RAINY, "en", _components()), [], 0
        while i < len(text):
            step = rng.randint(1, 5)
            shown.append(model.feed(text[i : i + step]))
            i += step
        shown.append(model.finish())
        assert "".join(shown).strip() == at_once and model.why == reason
