"""Listed options parse whole: times, dates, numbers with separators, quoted text."""

from __future__ import annotations

import pytest

from manyshores.detection.task import detect_task, split_listed


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("What time is breakfast? Options: 08:00, 07:00, 09:00", ["08:00", "07:00", "09:00"]),
        ("When? Options: 7:30 pm, 8 pm, 21:00. Thanks", ["7:30 pm", "8 pm", "21:00"]),
        ("When do they open? Options: 8 a.m., 9 a.m., 10 a.m.", ["8 a.m.", "9 a.m.", "10 a.m."]),
        ("Which day? Options: 05/19, 12/25, 01/01", ["05/19", "12/25", "01/01"]),
        ("Which date? Options: 2024-05-19, 19.05.2024", ["2024-05-19", "19.05.2024"]),
        (
            "How many guests? Options: 1,000, 2,000, 500, 10,000",
            ["1,000", "2,000", "500", "10,000"],
        ),
        ("How many guests? Options: 1.000, 2.000, 500", ["1.000", "2.000", "500"]),
        ("How much? Options: 3.5, 4.25, 10", ["3.5", "4.25", "10"]),
        ("How long? Options: 1-2 hours, 3-4 hours, 5 hours", ["1-2 hours", "3-4 hours", "5 hours"]),
        (
            'What do they say? Options: "Yes, always", "No, never", "Why not?"',
            ["Yes, always", "No, never", "Why not?"],
        ),
        ("¿Qué dicen? Opciones: «Sí, claro», “No, gracias”", ["Sí, claro", "No, gracias"]),
        ("Options: 'maybe, later', 'now'", ["maybe, later", "now"]),
    ],
)
def test_listed_options_parse_whole(text: str, options: list[str]) -> None:
    task = detect_task(text)
    assert task["name"] == "multiple_choice"
    assert task["options"] == options


def test_enumerated_and_plain_lists_still_split() -> None:
    assert detect_task("Options: 1. Very, 2. Rather, 3. Not at all. Which one?")["options"] == [
        "Very",
        "Rather",
        "Not at all",
    ]
    assert detect_task("Options: 1 = Very; 2 = Rather; 3 = Not at all")["options"] == [
        "Very",
        "Rather",
        "Not at all",
    ]
    # Numbers with no space after the comma are a list of numbers, not one thousands number.
    assert detect_task("Pick one. Options: 100,200,300")["options"] == ["100", "200", "300"]
    assert detect_task("Options: 1,2,3,4")["options"] == ["1", "2", "3", "4"]
    assert detect_task("Options: 10, 20, 30. Which one?")["options"] == ["10", "20", "30"]
    assert detect_task("Options: tea or coffee / juice")["options"] == ["tea", "coffee", "juice"]
    # Apostrophes inside words are not quotes.
    assert detect_task("Options: people's choice, children's toys")["options"] == [
        "people's choice",
        "children's toys",
    ]


def test_the_question_keeps_no_part_of_the_list() -> None:
    task = detect_task("What time do people eat dinner in Spain? Options: 21:00, 20:00, 19:00")
    assert task["question"] == "What time do people eat dinner in Spain?"


def test_split_listed_puts_every_kept_part_back() -> None:
    assert split_listed("“a, b”, 1,000, 08:00 or 09:30") == ["“a, b”", "1,000", "08:00", "09:30"]


def test_marks_inside_an_option_do_not_end_the_list() -> None:
    asked = detect_task(
        "What is the most popular family TV show? Options: happy camp, how close are you to "
        "the caspian?, chabelo, seyfu on ebs"
    )
    assert asked["options"][1] == "how close are you to the caspian"
    assert len(asked["options"]) == 4
    rivalry = detect_task("Which rivalry? Options: april 25 vs. amnokgang, fc seoul vs suwon")
    assert rivalry["options"] == ["april 25 vs. amnokgang", "fc seoul vs suwon"]
    park = detect_task("Which park? Options: entoto, yankari (the park or the reserve), everland")
    assert park["options"] == ["entoto", "yankari (the park or the reserve)", "everland"]
    # A sentence that starts with a capital still ends the list.
    assert detect_task("Options: tea, coffee. Which one?")["options"] == ["tea", "coffee"]


def test_every_built_multiple_choice_item_parses_back() -> None:
    from pathlib import Path

    from manyshores.eval.datasets.blend_mc import build_eval_mc
    from manyshores.textnorm import normalize_answer

    data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "blend"
    if not data.is_dir():
        pytest.skip("the shared BLEnD data is not next to the project")
    items = build_eval_mc(data)
    assert len(items) > 1000
    for it in items:
        parsed = detect_task(it.text)["options"]
        assert [normalize_answer(o) for o in parsed] == [normalize_answer(o) for o in it.options]
