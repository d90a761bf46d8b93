"""`manyshores eval wvs`: resumable runs, and the cross-validated choice of the `experts` constants."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from manyshores.eval.jsonl import read_jsonl
from manyshores.eval.metrics.survey import expected_position_choice
from manyshores.eval.runners.calibrate import Row, combine, cross_validate, mean_scores
from manyshores.eval.runners.wvs_report import complete_questions
from manyshores.survey.decision import product_with_memory


def test_complete_questions_and_torn_lines(tmp_path: Path) -> None:
    data = {"A": {"q1": [1.0, 0.0], "q2": [0.5, 0.5]}, "B": {"q1": [0.2, 0.8]}}
    recs = [
        {"system": "memory", "country": "A", "qid": "q1"},
        {"system": "memory", "country": "B", "qid": "q1"},
        {"system": "memory", "country": "A", "qid": "q2"},
        {"system": "experts", "country": "A", "qid": "q1"},
    ]
    assert complete_questions(recs, data, ["memory"]) == {"q1", "q2"}
    assert complete_questions(recs, data, ["memory", "experts"]) == set()
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"system": "mem')
    assert read_jsonl(path, resume=True) == recs  # the torn last line of a killed run is dropped


def test_cli_resume_predicts_only_missing_questions(tmp_path: Path, test_data: Path) -> None:
    from manyshores.cli.main import app

    dev = json.loads((test_data / "wvs" / "dev.json").read_text())
    qids = sorted(dev["KEN"])[:3]
    data = {c: {q: dev[c][q] for q in qids} for c in ("KEN", "USA")}
    data_path, out = tmp_path / "d.json", tmp_path / "p.jsonl"
    data_path.write_text(json.dumps(data))
    from manyshores.paths import PACKAGE_WVS

    args = ["eval", "wvs", "--questions", str(PACKAGE_WVS / "questions.json")]
    args += ["--data", str(data_path), "--systems", "memory", "--out", str(out)]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    full = read_jsonl(out)
    assert len(full) == 6
    # An interrupted run: one question done, one half-written, a torn line.
    kept = [r for r in full if r["qid"] == qids[0]] + [full[-1]]
    out.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"sys')
    second = runner.invoke(app, [*args, "--resume"])
    assert second.exit_code == 0, second.output
    again = read_jsonl(out)
    assert sorted((r["country"], r["qid"]) for r in again) == sorted(
        (r["country"], r["qid"]) for r in full
    )
    assert {r["qid"]: r["probs"] for r in again} == {r["qid"]: r["probs"] for r in full}


def test_combine_is_memory_when_the_expert_has_no_weight() -> None:
    row = Row("A", "q", [0.1, 0.2, 0.7], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5])
    probs, choice = combine(row, 0.0, 1.0)
    assert probs == row.memory and choice == expected_position_choice(row.memory)
    probs, choice = combine(row, 0.5, 2.0)
    assert probs == product_with_memory(row.expert or [], row.memory, 0.5)
    assert choice == expected_position_choice(
        product_with_memory(row.expert or [], row.memory, 0.5, 2.0)
    )


def test_cross_validation_finds_an_informative_expert() -> None:
    # The expert knows the answer, memory is uniform: CV must give the expert weight, and the
    # held-out folds must beat memory alone.
    rows = []
    for c in ("A", "B"):
        for i in range(20):
            truth = [0.8, 0.1, 0.1] if i % 2 else [0.1, 0.1, 0.8]
            rows.append(Row(c, f"q{i}", truth, list(truth), [1 / 3] * 3))

    def plain(r: Row) -> tuple[list[float], int]:
        return r.memory, expected_position_choice(r.memory)

    settings = [{"w": w} for w in (0.0, 0.5, 1.0)]
    out = cross_validate(
        lambda s: rows,
        settings,
        lambda s: lambda r: combine(r, s["w"], 1.0),
        plain,
        folds=4,
        repeats=2,
    )
    assert out["chosen"] == {"w": 1.0}
    assert out["held_out"]["jsd_align"] > out["baseline_held_out"]["jsd_align"]
    assert out["held_out"]["spa"] > out["baseline_held_out"]["spa"]
    assert mean_scores(rows, plain)["spa"] < 1.0


def test_expert_cache_is_dropped_when_the_experts_change(tmp_path: Path) -> None:
    from manyshores.eval.runners.calibrate import Cache

    path = tmp_path / "c.json"
    cache = Cache(path, "stamp-a")
    cache.data["Q1"] = {"USA": [0.5, 0.5]}
    cache.save()
    assert Cache(path, "stamp-a").data == {"Q1": {"USA": [0.5, 0.5]}}
    assert Cache(path, "stamp-b").data == {}


def test_calibrate_command_refuses_a_missing_dev_file(tmp_path: Path) -> None:
    from manyshores.cli.main import app

    result = CliRunner().invoke(app, ["experts", "calibrate", "--data", str(tmp_path / "no.json")])
    assert result.exit_code != 0 and "no such file" in result.output
