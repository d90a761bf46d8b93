"""Validators, grounding and balance on fixed inputs (no model involved)."""

from __future__ import annotations

import json

from manyshores.synthesis.teacher import teacher_messages
from manyshores.synthesis.validate import (
    Balancer,
    check_format,
    check_grounding,
    dedup_key,
    parse_json_object,
    supporting_sentence,
)

PASSAGE = (
    'In Mexico, when asked "What is the most popular fruit in Mexico?" most people answered '
    "mango; others said orange. Breakfast is often chilaquiles with coffee."
)


def test_parse_json_object_tolerates_fences_and_chatter() -> None:
    obj = {"question": "q", "answer": "a", "evidence": "e"}
    assert parse_json_object(f"Sure! ```json\n{json.dumps(obj)}\n``` Hope it helps }}") == obj
    assert parse_json_object("no json") is None
    assert parse_json_object("[1, 2]") is None
    assert parse_json_object('{"a": 1') is None


def test_check_format_per_format() -> None:
    ok, why = check_format(
        {
            "question": "Most popular fruit?",
            "answer": "mango",
            "evidence": "most people answered mango",
        },
        "short_answer",
    )
    assert ok is not None and why is None
    _, why = check_format(
        {"question": "Is mango the fruit?", "answer": "mango", "evidence": "x"}, "short_answer"
    )
    assert why == "the question gives its answer away"
    _, why = check_format({"question": "q", "evidence": "e"}, "short_answer")
    assert why == "question and answer are required"
    no_quote, _ = check_format({"question": "Fruit?", "answer": "mango"}, "short_answer")
    assert no_quote is not None and no_quote["evidence"] == ""  # the pipeline cites for it
    assert supporting_sentence("mango", PASSAGE).endswith("others said orange.")
    echo = {"question": "Fruit?", "answer": "a short phrase", "evidence": "quote"}
    assert check_format(echo, "short_answer")[1] is not None
    mc = {
        "question": "Fruit?",
        "options": ["mango", "apple", "kiwi"],
        "answer": "mango",
        "evidence": "e",
    }
    assert check_format(mc, "multiple_choice")[0] is not None
    assert check_format({**mc, "answer": "pear"}, "multiple_choice")[1] == (
        "the answer is not one of the options"
    )
    assert check_format({**mc, "options": ["mango", "Mango!"]}, "multiple_choice")[1] == (
        "options repeat"
    )
    assert check_format({**mc, "options": ["mango"]}, "multiple_choice")[1] is not None
    cls, _ = check_format(
        {"statement": "Mango is loved", "label": "TRUE", "evidence": "e"}, "classification"
    )
    assert cls is not None and cls["answer"] == "true"
    assert check_format({"statement": "s", "label": "maybe"}, "classification")[0] is None
    survey = {
        "question": "How often?",
        "options": ["never", "sometimes", "often"],
        "answer": "often",
        "evidence": "e",
    }
    assert check_format(survey, "survey")[0] is not None


def test_grounding_accepts_supported_and_rejects_unsupported_answers() -> None:
    def fields(answer: str, evidence: str) -> dict:
        return {
            "question": "Most popular fruit?",
            "options": [],
            "answer": answer,
            "evidence": evidence,
        }

    assert (
        check_grounding(fields("Mangoes", "most people answered mango"), "short_answer", PASSAGE)
        is None
    )
    assert (
        check_grounding(
            fields("chilaquiles with coffee", "Breakfast is often chilaquiles"),
            "short_answer",
            PASSAGE,
        )
        is None
    )
    assert (
        check_grounding(fields("pizza", "most people answered mango"), "short_answer", PASSAGE)
        == "the answer is not supported by the passage"
    )
    assert (
        check_grounding(
            fields("mango", "everyone in Mexico eats pizza daily"), "short_answer", PASSAGE
        )
        == "the evidence is not quoted from the passage"
    )
    assert (
        check_grounding(fields("the", "most people answered mango"), "short_answer", PASSAGE)
        == "the answer has no content words"
    )
    true_claim = {
        "question": "Mexicans answered mango",
        "answer": "true",
        "evidence": "most people answered mango",
    }
    assert check_grounding(true_claim, "classification", PASSAGE) is None
    made_up = {**true_claim, "question": "Swedes prefer lingonberries"}
    assert check_grounding(made_up, "classification", PASSAGE) is not None
    assert check_grounding({**made_up, "answer": "false"}, "classification", PASSAGE) is None


def test_dedup_key_ignores_case_punctuation_and_plurals() -> None:
    a = {"question": "What fruits do Mexicans like?"}
    b = {"question": "what fruit do mexicans like"}
    assert dedup_key(a, "short_answer") == dedup_key(b, "short_answer")


def test_balancer_rotates_multiple_choice_answers() -> None:
    bal = Balancer("multiple_choice", 8)
    positions = []
    for _ in range(6):
        out = bal.admit({"question": "q", "options": ["right", "w1", "w2"], "answer": "right"})
        assert out is not None
        positions.append(out["options"].index("right"))
    assert positions == [0, 1, 2, 0, 1, 2]


def test_teacher_request_carries_passage_and_shape() -> None:
    msgs = teacher_messages("survey", "Mexico", "everyday_qa", PASSAGE, "food in Mexico")
    assert PASSAGE in msgs[-1]["content"] and '"options"' in msgs[-1]["content"]


def test_short_answer_list_is_cut_to_its_first_answer() -> None:
    raw = {"question": "What is a common snack?", "answer": "egg / eggs; sandwich; fruit"}
    fields, why = check_format(raw, "short_answer")
    assert why is None and fields is not None and fields["answer"] == "egg / eggs"
