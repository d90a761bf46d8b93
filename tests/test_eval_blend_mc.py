"""Everyday multiple choice built from BLEnD, and how the graph's answers to it are scored."""

from __future__ import annotations

import json

from manyshores.eval.datasets.blend_mc import build_mc, top_answer, write_items
from manyshores.eval.runners.blend_mc import (
    expected_calibration_error,
    expert_mixture,
    picked,
    run_mc,
    score_mc,
)
from manyshores.evidence.bank import AnswerBank, fold_of, parse_row
from manyshores.textnorm import normalize_answer


def _row(culture: str, qid: str, answers: list[tuple[str, int]]) -> dict:
    return {
        "id": qid,
        "culture": culture,
        "language": "en",
        "question": f"What is eaten in {culture}?",
        "en_question": f"What is eaten in {culture}?",
        "annotations": [{"answers": [a], "en_answers": [a], "count": n} for a, n in answers],
    }


def _bank() -> AnswerBank:
    rows = [
        _row("AAA", "q1", [("rice", 3), ("bread", 1)]),
        _row("BBB", "q1", [("bread", 4)]),  # AAA's own second answer: never AAA's distractor
        _row("CCC", "q1", [("Noodles", 2), ("rice", 1)]),
        _row("DDD", "q1", [("noodle", 5)]),  # the same as CCC's after normalisation
        _row("EEE", "q1", [("tacos", 2)]),
        _row("FFF", "q1", [("stew, spicy", 3)]),  # a comma: cannot be listed
        _row("GGG", "q1", [("fufu", 1)]),
        _row("AAA", "q2", [("tea", 2)]),
        _row("BBB", "q2", [("tea", 1)]),  # no three distinct other answers: no item
    ]
    return AnswerBank.from_rows(parse_row(r, "test") for r in rows)


def test_items_are_a_cultures_answer_against_other_cultures_answers() -> None:
    bank = _bank()
    items = build_mc(bank)
    assert {(it.culture, it.id) for it in items} >= {("AAA", "q1")}
    assert all(it.id == "q1" for it in items)
    for it in items:
        own = {normalize_answer(a) for ann in bank.questions[it.culture][0].annotations
               for a in ann.en_answers}  # fmt: skip
        keys = [normalize_answer(o) for o in it.options]
        assert len(it.options) == 4 and len(set(keys)) == 4
        assert it.options[it.answer] == top_answer(bank.questions[it.culture][0])
        assert not (set(keys) - {keys[it.answer]}) & own  # no distractor the culture said
        assert all("," not in o for o in it.options)
        assert it.text == f"{it.question} Options: {', '.join(it.options)}"
        assert it.fold == fold_of(it.id, 2)
    aaa = next(it for it in items if it.culture == "AAA")
    assert "bread" not in aaa.options
    assert build_mc(bank) == items  # seeded: the same every time
    assert build_mc(bank, seed=7) != items or len(items) == 1


def test_items_write_as_json_lines(tmp_path) -> None:
    items = build_mc(_bank())
    path = tmp_path / "items.jsonl"
    assert write_items(items, path) == len(items)
    first = json.loads(path.read_text().splitlines()[0])
    assert first["text"] == items[0].text and first["answer"] == items[0].answer


def test_runs_are_resumed_and_scored(tmp_path) -> None:
    items = build_mc(_bank())
    calls: list[str] = []

    def answer(text: str) -> dict:
        calls.append(text)
        options = text.split("Options: ", 1)[1].split(", ")
        return {
            "answer": f"Most likely: “{options[0]}”.",
            "short": options[0],
            "task": {"options": options},
            "option_probs": [0.7] + [0.1] * (len(options) - 1),
            "wording": "related",
            "confidence": 0.7,
            "expert_answers": [
                {"option_probs": [0.25] * len(options), "weight": 1.0, "expert_id": "x"}
            ],
            "posterior": {"cultures": [{"id": "AAA", "p": 1.0}]},
        }

    out = tmp_path / "preds.jsonl"
    rows = run_mc(items, answer, out, progress=False)
    again = run_mc(items, answer, out, progress=False)  # resumed: nothing is asked twice
    assert len(calls) == len(items) == len(rows) == len(again)
    report = score_mc(rows)
    part = next(iter(report.values()))
    expected = sum(it.answer == 0 for it in items) / len(items)
    assert abs(sum(p["items"] for p in report.values()) - len(items)) == 0
    assert part["percent_share"] == 0.0 and part["parsed_share"] == 1.0
    total = sum(p["lead"]["accuracy"] * p["items"] for p in report.values()) / len(items)
    assert abs(total - expected) < 1e-3
    with_percent = [{**r, "reply": "“rice” (34%)"} for r in rows]
    assert next(iter(score_mc(with_percent).values()))["percent_share"] == 1.0


def test_scoring_helpers() -> None:
    assert picked({"short": "The Rice", "options": ["bread", "rice"]}) == 1
    assert picked({"short": "", "options": ["bread", "rice"]}) is None
    mixed = expert_mixture(
        [{"option_probs": [1.0, 0.0], "weight": 0.75}, {"option_probs": [0.0, 1.0], "weight": 0.25}]
    )
    assert mixed == [0.75, 0.25] and expert_mixture([{"option_probs": None}]) == []
    assert expected_calibration_error([(0.9, 1), (0.9, 1)]) == 0.1
    assert expected_calibration_error([]) is None


def test_fit_helpers_score_and_calibrate_synthetic_items() -> None:
    import numpy as np

    from manyshores.eval.datasets.blend_mc import McItem
    from manyshores.eval.runners.blend_mc_fit import accuracy, by_similarity, fit_scale

    def item(answer: int) -> McItem:
        return McItem("AAA", f"q{answer}", "Q?", ("a", "b"), answer, 0)

    # One feature that points at the right option 3 times out of 4.
    rows = [
        (item(0), np.array([[1.0], [0.0]]), 0.7),
        (item(0), np.array([[1.0], [0.0]]), 0.7),
        (item(1), np.array([[0.0], [1.0]]), 0.2),
        (item(1), np.array([[1.0], [0.0]]), 0.2),
    ]
    assert accuracy(rows, [1.0])["accuracy"] == 0.75
    bins = by_similarity(rows, [1.0])
    assert bins["0.00-0.30"] == {"items": 2, "accuracy": 0.5, "min_culture": 0.5}
    assert bins["0.60-1.01"]["accuracy"] == 1.0
    # Right 3 of 4 at one margin: the likelihood's best scale makes the lead about 0.75 sure.
    scale = fit_scale(rows, np.array([1.0]))
    lead = 1 / (1 + np.exp(-scale))
    assert abs(lead - 0.75) < 0.03
