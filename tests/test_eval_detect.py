"""The detection dev-set builder, the metrics and the `eval detect` / `bench detect` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from manyshores.cli.main import app
from manyshores.eval.datasets.detect_cases import (
    BLEND_CULTURES,
    PlaceRemover,
    build_cases,
    split_of,
)
from manyshores.eval.jsonl import read_jsonl, write_jsonl
from manyshores.eval.runners.detect import report

# A miniature BLEnD: same question ids across cultures, local + English text naming the place.
_ROWS = {
    "Spain": ("ESP", "es", "¿Cuál es la fruta más popular en España?", "in Spain"),
    "Mexico": ("MEX", "es", "¿Cuál es la fruta más popular en México?", "in Mexico"),
    "Assam": ("IN-AS", "as", "অসমত কি ফল সবাতোকৈ জনপ্ৰিয়?", "in Assam"),
    "UK": ("GBR", "en", "What is the most popular fruit in the UK?", "in the UK"),
}


@pytest.fixture(scope="module")
def blend_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("blend")
    for file, (culture, lang, question, where) in _ROWS.items():
        rows = [
            {
                "id": f"Q-{i}",
                "culture": culture,
                "blend_name": file,
                "language": lang,
                "question": question,
                "en_question": f"What is the most popular fruit {where}?",
                "annotations": [],
            }
            for i in range(24)
        ]
        (root / f"{file}.json").write_text(json.dumps(rows, ensure_ascii=False))
    return root


def test_split_is_stable_and_covers_both() -> None:
    ids = [f"Q-{i}" for i in range(50)]
    splits = [split_of(i) for i in ids]
    assert splits == [split_of(i) for i in ids]
    assert {"dev", "test"} == set(splits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the most popular fruit in the UK?", "What is the most popular fruit?"),
        ("¿Cuál es la fruta más popular en España?", "¿Cuál es la fruta más popular?"),
        ("What do people from Northern Nigeria eat?", "What do people eat?"),
        ("在中国，学龄前儿童常见的零食是什么？", "学龄前儿童常见的零食是什么？"),
    ],
)
def test_place_remover(text: str, expected: str) -> None:
    assert PlaceRemover().remove(text) == expected


def test_place_remover_strips_attached_forms() -> None:
    remover = PlaceRemover()
    for text in ("অসমত কি ফল সবাতোকৈ জনপ্ৰিয়?", "Azərbaycanda ən populyar meyvə hansıdır?"):
        bare = remover.remove(text)
        assert bare and not remover.index.find(bare) and len(bare) < len(text)


def test_build_cases_kinds_and_labels(blend_dir: Path) -> None:
    cases = build_cases(blend_dir, split="dev", per_kind=3)
    kinds = {c["kind"] for c in cases}
    assert {"place_local", "place_en", "language_only", "shared_language", "no_cue",
            "multi_turn"} <= kinds  # fmt: skip
    remover = PlaceRemover()
    for case in cases:
        assert set(case["label"]) <= set(BLEND_CULTURES)
        assert split_of(case["id"].rsplit(":", 1)[1]) == "dev"
        last = case["messages"][-1]["content"]
        if case["kind"] in ("language_only", "shared_language", "no_cue", "multi_turn"):
            assert not remover.index.find(last), case  # no place left in the last turn
        if case["kind"] == "shared_language":
            assert case["expect"] == "ambiguous" and len(case["label"]) == 2
        if case["kind"] == "multi_turn":
            assert len(case["messages"]) >= 3
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids))


def _pred(ids: list[tuple[str, float]], ambiguous: bool = False, unknown: bool = False) -> dict:
    return {
        "id": "x",
        "cultures": [{"id": i, "p": p} for i, p in ids],
        "ambiguous": ambiguous,
        "unknown": unknown,
        "task": "open_qa",
    }


def test_report_metrics() -> None:
    cases = [
        {"id": "1", "label": ["ESP"], "kind": "place_en"},
        {"id": "2", "label": ["ESP"], "kind": "place_en"},
        {"id": "3", "label": ["ESP", "MEX"], "kind": "shared_language", "expect": "ambiguous"},
        {"id": "4", "label": ["KOR"], "kind": "no_cue", "expect": "unknown_or_ambiguous"},
    ]
    preds = [
        _pred([("ESP", 0.9), ("MEX", 0.1)]),
        _pred([("MEX", 0.85), ("ESP", 0.15)]),  # confidently wrong
        _pred([("MEX", 0.45), ("USA", 0.3), ("ESP", 0.2)], ambiguous=True),
        _pred([], unknown=True),
    ]
    rep = report(cases, preds, [0.001] * 4)
    place = rep["by_kind"]["place_en"]
    assert place["top1"] == 0.5 and place["confident_wrong"] == 0.5
    assert rep["criteria"]["place_named_top1"] == 0.5
    assert rep["criteria"]["shared_language_ambiguous_top3"] == 1.0
    assert rep["criteria"]["no_cue_unknown_or_ambiguous"] == 1.0
    assert rep["passed"]["place_named_top1"] is False
    assert rep["overall"]["ambiguity_precision"] == 1.0
    assert rep["overall"]["ambiguity_recall"] == 0.5  # the unknown no-cue case was not flagged


def test_eval_detect_cli(tmp_path: Path) -> None:
    data = tmp_path / "cases.jsonl"
    write_jsonl(
        [
            {
                "id": "a",
                "messages": [{"role": "user", "content": "What do people eat in Spain?"}],
                "label": ["ESP"],
                "kind": "place_en",
            },  # fmt: skip
            {
                "id": "b",
                "messages": [{"role": "user", "content": "¿Qué comen los niños?"}],
                "label": ["ESP", "MEX"],
                "kind": "shared_language",
            },  # fmt: skip
            {"id": "c", "messages": [{"role": "user", "content": "Which? (A) tea (B) coffee"}]},
        ],
        data,
    )
    out, rep = tmp_path / "pred.jsonl", tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "detect",
            "--data",
            str(data),
            "--out",
            str(out),
            "--json",
            str(rep),
            "--cultures",
            ",".join(BLEND_CULTURES),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    preds = read_jsonl(out)
    assert [p["id"] for p in preds] == ["a", "b", "c"]
    for p in preds:
        assert set(p) == {"id", "cultures", "ambiguous", "unknown", "task"}
        assert len(p["cultures"]) <= 10
        assert all(c["id"] in BLEND_CULTURES for c in p["cultures"])
    assert preds[0]["cultures"][0]["id"] == "ESP"
    assert preds[2]["task"] == "multiple_choice"
    assert json.loads(rep.read_text())["by_kind"]["place_en"]["n"] == 1


def test_eval_detect_cli_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", "detect", "--data", str(tmp_path / "nope.jsonl"), "--out", "x.jsonl"]
    )
    assert result.exit_code != 0


def test_bench_detect_cli(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["bench", "detect", "--n", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    bench = json.loads(out.read_text())
    assert bench["messages"] == 20
    assert bench["per_message_ms"]["p50"] > 0


def test_packaged_dev_set_meets_targets_on_a_sample() -> None:
    """A quick regression guard over a slice of the shipped dev set (the full figures are in
    the README; `manyshores eval detect` recomputes them)."""
    from manyshores.detection import CultureDetector
    from manyshores.eval.runners.detect import predict

    path = Path(__file__).resolve().parents[1] / "manyshores" / "data" / "detect" / "dev.jsonl"
    cases = read_jsonl(path)[::6]
    preds, _ = predict(CultureDetector().load(), cases, list(BLEND_CULTURES))
    rep = report(cases, preds, [0.0] * len(cases))
    assert all(rep["passed"].values()), rep["criteria"]


def test_cue_sets_hold_switches_after_three_turns(blend_dir: Path) -> None:
    from manyshores.eval.datasets.cue_cases import hand_cases, part_of, switch_cases

    cases = switch_cases(blend_dir, "dev", per_culture=2)
    switches = [c for c in cases if c["kind"] == "switch_after_3"]
    assert switches and {c["label"][0] for c in switches} <= {"ESP", "MEX", "IN-AS"}
    for case in switches:
        users = [m for m in case["messages"] if m["role"] == "user"]
        assert len(users) == 4 and "UK" in users[0]["content"] + users[1]["content"]
        assert case["label"][0] != "GBR"
    stays = [c for c in cases if c["kind"] == "stay_after_3"]
    assert all(c["label"] == ["GBR"] for c in stays)
    parts = hand_cases()
    assert parts["tune"] and parts["held"]
    assert all(part_of(c["id"]) == "held" for c in parts["held"])


def test_report_scores_cue_and_own_culture_cases() -> None:
    cases = [
        {"id": "a", "label": ["IND"], "kind": "cue_festival", "expect": "culture"},
        {"id": "b", "label": ["GRC"], "kind": "cue_dish", "expect": "culture"},
        {"id": "c", "label": ["JPN"], "kind": "own_we", "expect": "culture", "min_p": 0.8},
        {"id": "d", "label": ["MEX"], "kind": "own_we", "expect": "culture", "min_p": 0.8},
    ]
    preds = [
        {"cultures": [{"id": "IND", "p": 0.6}], "ambiguous": False, "unknown": False},
        {"cultures": [{"id": "TUR", "p": 0.55}], "ambiguous": False, "unknown": False},
        {"cultures": [{"id": "JPN", "p": 0.9}], "ambiguous": False, "unknown": False},
        {"cultures": [{"id": "MEX", "p": 0.7}], "ambiguous": False, "unknown": False},
    ]
    r = report(cases, preds, [0.001] * 4)
    assert r["criteria"]["cue_top1"] == 0.5
    assert r["criteria"]["cue_likely_wrong_max"] == 0.5  # another culture at p >= 0.5
    assert r["criteria"]["own_we_leads_p08"] == 0.5
    assert r["passed"]["cue_top1"] is False
