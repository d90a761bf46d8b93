"""BLEnD short-answer evaluation: scoring on real answers, resumable runs, leave-question-out RAG."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from manyshores.eval.datasets.blend import BlendQuestion, load_questions
from manyshores.eval.metrics.blend import is_correct, score_blend_predictions
from manyshores.eval.runners.blend import run_blend
from manyshores.synthesis.textnorm import normalize_answer


def test_normalisation_on_real_blend_answers(test_data: Path) -> None:
    uk = {q.id: q for q in load_questions(test_data / "blend", ["GBR"])}
    fruit = uk["Al-en-04"]  # "apple", "apples", "banana"
    assert is_correct("Apples.", fruit.answers)
    assert is_correct("The apple", fruit.answers)
    assert is_correct("Bananas, mostly!", fruit.answers)
    assert not is_correct("Pineapple", fruit.answers)  # whole words only
    assert not is_correct("oranges", fruit.answers)
    park = uk["Al-en-09"]  # candy floss / cotton candy / doughnuts ...
    assert is_correct("Candy-floss", park.answers)
    assert is_correct("a doughnut", park.answers)
    assert not is_correct("candy", park.answers)  # a part of a phrase is not the phrase
    assert is_correct("ice cream\nand many more things", park.answers)
    assert not is_correct("Many things.\nIce cream", park.answers)  # only the first line counts
    china = {q.id: q for q in load_questions(test_data / "blend", ["CHN"])}
    assert is_correct("苹果。", china["Al-en-04"].answers)  # no spaces: substring of the run
    assert is_correct("I'd say apples", china["Al-en-04"].answers)  # English answers count too
    assert normalize_answer("The Dumplings!") == normalize_answer("dumpling")
    assert normalize_answer("fried noodles") == normalize_answer("Fry noodle")
    assert normalize_answer("Café") == "cafe"


def test_load_questions_limit_and_cultures(test_data: Path) -> None:
    qs = load_questions(test_data / "blend", ["MEX", "KOR"], limit=3)
    assert [q.culture for q in qs] == ["MEX"] * 3 + ["KOR"] * 3  # file order
    assert all(q.answers for q in qs)


def test_score_per_culture_and_joint_vs_separate() -> None:
    qs = [
        BlendQuestion("q1", "MEX", "?", "?", ("tacos",)),
        BlendQuestion("q2", "MEX", "?", "?", ("mole",)),
        BlendQuestion("q1", "KOR", "?", "?", ("kimchi",)),
    ]
    preds = [
        {"system": "task_adapter", "culture": "MEX", "id": "q1", "answer": "Tacos"},
        {"system": "task_adapter", "culture": "MEX", "id": "q2", "answer": "mole poblano"},
        {"system": "task_adapter", "culture": "KOR", "id": "q1", "answer": "rice"},
        {"system": "joint_adapter", "culture": "MEX", "id": "q1", "answer": "pizza"},
        {"system": "joint_adapter", "culture": "MEX", "id": "q2", "answer": "mole"},
        {"system": "joint_adapter", "culture": "KOR", "id": "q1", "answer": "kimchi"},
    ]
    report = score_blend_predictions(preds, qs)
    sep = report["systems"]["task_adapter"]
    assert sep["per_culture"] == {"KOR": 0.0, "MEX": 1.0} and sep["mean"] == 0.5
    assert report["systems"]["joint_adapter"]["per_culture"] == {"KOR": 1.0, "MEX": 0.5}
    delta = report["separate_minus_joint"]["task_adapter"]
    assert delta["per_culture"] == {"KOR": -1.0, "MEX": 0.5} and delta["mean"] == -0.25
    # per question: MEX q1 +1, MEX q2 0, KOR q1 -1 → mean 0, sd 1, se 1/sqrt(3)
    paired = report["paired"]["task_adapter - joint_adapter"]
    assert paired == {"diff": 0.0, "se": 0.5774, "n": 3, "a_only": 1, "b_only": 1}
    assert "task_adapter_rag - prompted" not in report["paired"]  # neither ran


def test_paired_difference_is_tighter_than_independent_when_systems_agree() -> None:
    from manyshores.eval.metrics.blend import paired_difference

    a = {i: i % 2 == 0 for i in range(40)}
    b = dict(a) | {1: True, 3: True, 5: True}  # b right on 3 more questions, else the same
    paired = paired_difference(a, b)
    assert paired is not None and paired["diff"] == -0.075 and paired["b_only"] == 3
    pa, pb = 20 / 40, 23 / 40
    independent = (pa * (1 - pa) / 40 + pb * (1 - pb) / 40) ** 0.5
    assert paired["se"] < independent / 2
    assert paired_difference({1: True}, {1: False}) is None  # one shared question: no error bar


@pytest.fixture()
def small_blend(test_data: Path, tmp_path: Path) -> Path:
    """Two cultures, eight questions each, from the shared split."""
    out = tmp_path / "blend"
    out.mkdir()
    for name in ("Mexico.json", "UK.json"):
        rows = json.loads((test_data / "blend" / name).read_text(encoding="utf-8"))[:8]
        (out / name).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return out


def test_run_is_resumable_and_reports_missing_adapters(small_blend: Path, tmp_path: Path) -> None:
    qs = load_questions(small_blend, limit=4)
    calls: list[str | None] = []

    def generate(expert: str | None, chats: list[list[dict[str, str]]]) -> list[str]:
        calls.extend([expert] * len(chats))
        return ["tacos" if "Mexico" in m[0]["content"] else "chips" for m in chats]

    out = tmp_path / "pred.jsonl"
    systems = ["base", "prompted", "task_adapter"]
    report = run_blend(
        qs,
        systems,
        generate,
        out,
        available=lambda e: e.startswith("MEX"),
        batch_size=3,
        progress=False,
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert {tuple(sorted(x)) for x in lines} == {("answer", "culture", "id", "system")}
    assert len(lines) == 4 * 2 * 2 + 4  # task_adapter only where the adapter exists
    assert report["missing_adapters"] == {"task_adapter": ["GBR"]}
    assert calls.count("MEX.everyday_qa.lora") == 4
    assert set(report["systems"]) == set(systems)
    n_calls = len(calls)
    run_blend(qs, systems, generate, out, available=lambda e: e.startswith("MEX"), progress=False)
    assert len(calls) == n_calls  # nothing answered twice
    assert len(out.read_text().splitlines()) == len(lines)


def test_rag_never_sees_the_evaluated_questions_annotations(
    small_blend: Path, tmp_path: Path
) -> None:
    from manyshores.cli.blend import open_eval_kb
    from manyshores.config import get_settings

    kb = open_eval_kb(get_settings(), tmp_path / "kb", small_blend, progress=False)
    qs = load_questions(small_blend, ["MEX"], limit=4)
    for q in qs:
        hits = kb.query(q.question, {q.culture: 1.0}, 5, exclude_question_ids={q.id})
        assert hits, "other questions' passages are still there"
        for h in hits:
            assert f"#{q.id}" not in h.source and q.id not in h.source.split("group:")[-1]
        own = kb.query(q.question, {q.culture: 1.0}, 5)
        assert any(f"#{q.id}" in h.source for h in own)  # it would have been found otherwise


def test_cli_eval_blend_small_run(
    small_blend: Path, tmp_path: Path, tiny_base, monkeypatch
) -> None:
    import manyshores.runtime.base_model as bm
    from manyshores.cli.main import app

    monkeypatch.setattr(bm, "load_base_model", lambda *a, **kw: tiny_base)
    out, report = tmp_path / "pred.jsonl", tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "blend",
            "--data",
            str(small_blend),
            "--systems",
            "base,prompted,task_adapter",
            "--out",
            str(out),
            "--json",
            str(report),
            "--limit",
            "2",
            "--cultures",
            "MEX",
            "--max-new-tokens",
            "3",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert set(data["systems"]) == {"base", "prompted"}
    assert data["missing_adapters"] == {"task_adapter": ["MEX"]}
    assert len(out.read_text().splitlines()) == 4
    shutil.rmtree(small_blend)


def test_split_blend_by_question_id(small_blend: Path, tmp_path: Path) -> None:
    from manyshores.cli.main import app

    train, ev = tmp_path / "train", tmp_path / "eval"
    result = CliRunner().invoke(
        app,
        [
            "data",
            "split-blend",
            "--data",
            str(small_blend),
            "--train-out",
            str(train),
            "--eval-out",
            str(ev),
            "--eval-share",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    ids = {}
    for part in (train, ev):
        for name in ("Mexico.json", "UK.json"):
            ids[(part.name, name)] = {r["id"] for r in json.loads((part / name).read_text())}
    assert ids[("train", "Mexico.json")].isdisjoint(ids[("eval", "UK.json")])
    assert ids[("eval", "Mexico.json")] == ids[("eval", "UK.json")]  # same ids in every culture
    assert ids[("train", "Mexico.json")] | ids[("eval", "Mexico.json")] == {
        r["id"] for r in json.loads((small_blend / "Mexico.json").read_text())
    }
