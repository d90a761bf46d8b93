"""Every evaluation counts a blank or invalid item as skipped, reports it, and never stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from manyshores.errors import InvalidInputError
from manyshores.eval.datasets.blend import BlendQuestion
from manyshores.eval.jsonl import read_jsonl
from manyshores.eval.skips import Skips, bad_shares, unaskable

BLANKS = ["", "   ", "\u200b\u200b", "\n\t"]
"""Questions that look like something in a file and are nothing to ask."""


@pytest.fixture()
def holey_blend(test_data: Path, tmp_path: Path) -> Path:
    """Mexico's first four questions; the second has a blank local question, the third a blank
    English one (as a record of the real data set has)."""
    out = tmp_path / "blend"
    out.mkdir()
    rows = json.loads((test_data / "blend" / "Mexico.json").read_text(encoding="utf-8"))[:4]
    rows[1]["question"] = "  "
    rows[2]["en_question"] = "\u200b"
    rows[2]["question"] = "\u200b"
    (out / "Mexico.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return out


def test_unaskable_follows_the_graphs_input_rule():
    for blank in BLANKS:
        assert unaskable(blank) == "the message is empty"
    assert unaskable(None) == "not text (NoneType)"
    assert unaskable("\x00\x01binary") is not None
    assert unaskable("¿Qué se come en Navidad?") is None
    assert bad_shares([0.5, 0.5], 2) is None
    assert bad_shares([0.5, 0.5], 3) == "2 shares for 3 options"
    assert bad_shares([0.0, 0.0], 2) == "shares that sum to zero"
    assert bad_shares([float("nan"), 1.0], 2) is not None
    skips = Skips()
    skips.add("the message is empty", id="a")
    skips.add("the message is empty", id="b")
    assert skips.report() == {
        "n": 2,
        "by_reason": {"the message is empty": 2},
        "items": [
            {"id": "a", "reason": "the message is empty"},
            {"id": "b", "reason": "the message is empty"},
        ],
    }


def test_eval_blend_skips_blank_questions_in_both_languages(
    holey_blend: Path, tmp_path: Path, tiny_base, monkeypatch
) -> None:
    import manyshores.runtime.base_model as bm
    from manyshores.cli.main import app

    monkeypatch.setattr(bm, "load_base_model", lambda *a, **kw: tiny_base)
    out, report = tmp_path / "pred.jsonl", tmp_path / "report.json"
    args = ["eval", "blend", "--data", str(holey_blend), "--systems", "base"]
    args += ["--language", "both", "--out", str(out), "--json", str(report)]
    result = CliRunner().invoke(app, [*args, "--max-new-tokens", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    # The blank English question (its local one is blank too) is skipped in English…
    assert data["skipped"]["n"] == 1
    assert data["skipped"]["items"][0]["reason"] == "the message is empty"
    assert len(read_jsonl(out)) == 3
    # …and both blank local questions in the local run; the rest are answered.
    local = data["local"]["skipped"]
    assert local["n"] == 2 and local["by_reason"] == {"the message is empty": 2}
    assert len(read_jsonl(out.with_name("pred-local.jsonl"))) == 2


def test_graph_run_skips_what_has_no_text_or_is_refused(tmp_path: Path) -> None:
    from manyshores.eval.runners.blend_graph import run_graph

    def q(qid: str, en: str, local: str) -> BlendQuestion:
        return BlendQuestion(qid, "MEX", en, local, ("tamales",))

    questions = [
        q("a", "What is eaten at Christmas in Mexico?", "¿Qué se come en Navidad?"),
        q("b", "What is a common snack in Mexico?", ""),
        q("c", "   ", "\u200b"),
        q("d", "REFUSED by the graph", "¿Qué se bebe?"),
    ]
    asked: list[str] = []

    def answer(text: str) -> dict:
        asked.append(text)
        if text.startswith("REFUSED"):
            raise InvalidInputError("the message is mostly not letters")
        return {"answer": "Tamales.", "short": "tamales", "answers": ["tamales"]}

    out = tmp_path / "graph.jsonl"
    skipped = run_graph(questions, ["en", "local"], answer, out, progress=False)
    assert skipped["n"] == 4
    reasons = {(i["id"], i["language"]): i["reason"] for i in skipped["items"]}
    assert reasons == {
        ("b", "local"): "no question in this language",
        ("c", "en"): "the message is empty",
        ("c", "local"): "the message is empty",
        ("d", "en"): "the message is mostly not letters",
    }
    lines = read_jsonl(out)
    assert sorted((r["id"], r["language"]) for r in lines) == [
        ("a", "en"),
        ("a", "local"),
        ("b", "en"),
        ("d", "local"),
    ]
    assert all(t.strip() for t in asked)  # nothing blank was ever asked
    # A resumed run asks nothing again and reports the same skips.
    asked.clear()
    again = run_graph(questions, ["en", "local"], answer, out, progress=False)
    assert asked == ["REFUSED by the graph"] and again["n"] == 4


def test_eval_detect_skips_bad_cases_and_scores_the_rest(tmp_path: Path) -> None:
    from manyshores.cli.main import app

    good = {
        "id": "ok",
        "messages": [{"role": "user", "content": "What do people in Kenya eat?"}],
        "label": ["KEN"],
        "kind": "place_en",
    }
    lines = [
        json.dumps(good),
        json.dumps({"id": "blank", "messages": [{"role": "user", "content": " \u200b "}]}),
        json.dumps({"id": "none", "messages": []}),
        json.dumps({"id": "bot", "messages": [{"role": "assistant", "content": "Hi"}]}),
        json.dumps({**good, "id": "label", "label": "KEN"}),
        '{"id": "torn", "messages": [',
        json.dumps(["not", "an", "object"]),
    ]
    data, out, report = tmp_path / "cases.jsonl", tmp_path / "p.jsonl", tmp_path / "r.json"
    data.write_text("\n".join(lines) + "\n")
    args = ["eval", "detect", "--data", str(data), "--out", str(out), "--json", str(report)]
    result = CliRunner().invoke(app, [*args, "--cultures", "KEN,MEX,GRC"])
    assert result.exit_code == 0, result.output
    assert "skipped 6 cases" in result.output
    r = json.loads(report.read_text())
    assert r["n"] == 1 and r["overall"]["top1"] == 1.0
    assert r["skipped"]["by_reason"] == {
        "not JSON": 1,
        "not a JSON object": 1,
        "the message is empty": 1,
        "no messages": 1,
        "no user message": 1,
        "a label that is not a list of culture ids": 1,
    }
    preds = read_jsonl(out)  # one line per readable case, in order
    assert [p["id"] for p in preds] == ["ok", "blank", "none", "bot", "label"]
    assert "cultures" in preds[0] and all("skipped" in p for p in preds[1:])


def test_eval_wvs_skips_pairs_it_cannot_ask_or_score(tmp_path: Path, test_data: Path) -> None:
    from manyshores.cli.main import app
    from manyshores.paths import PACKAGE_WVS

    dev = json.loads((test_data / "wvs" / "dev.json").read_text())
    q1, q2 = sorted(dev["KEN"])[:2]
    data = {
        "KEN": {q1: dev["KEN"][q1], q2: [1.0], "Q-none": [0.5, 0.5]},
        "USA": {q1: [0.0] * len(dev["KEN"][q1])},
        "MEX": "not shares",
    }
    data_path, out, report = tmp_path / "d.json", tmp_path / "p.jsonl", tmp_path / "r.json"
    data_path.write_text(json.dumps(data))
    args = ["eval", "wvs", "--questions", str(PACKAGE_WVS / "questions.json")]
    args += ["--data", str(data_path), "--systems", "memory", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert "skipped 4 (country, question) pairs" in result.output
    assert [(r["country"], r["qid"]) for r in read_jsonl(out)] == [("KEN", q1)]
    skipped = json.loads(report.read_text())["skipped"]
    assert skipped["by_reason"] == {
        f"1 shares for {_options(q2)} options": 1,
        "question not in the questions file": 1,
        "shares that sum to zero": 1,
        "not a {question: shares} object": 1,
    }


def _options(qid: str) -> int:
    from manyshores.survey.data import load_questions

    return len(load_questions()[qid].options)


def test_eval_evidence_skips_blank_questions(test_data: Path, tmp_path: Path) -> None:
    from manyshores.eval.runners.evidence import evaluate_evidence
    from manyshores.evidence.bank import is_eval_id

    rows = json.loads((test_data / "blend" / "Mexico.json").read_text(encoding="utf-8"))
    asked = [r for r in rows if is_eval_id(r["id"])]
    assert len(asked) >= 4
    asked[0]["question"] = "   "  # no local question
    asked[1]["question"] = asked[1]["en_question"] = "\u200b"  # nothing in either language
    (tmp_path / "Mexico.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    report = evaluate_evidence(tmp_path, ("en", "local"))
    en, local = report["languages"]["en"], report["languages"]["local"]
    assert [i["id"] for i in en["skipped"]["items"]] == [asked[1]["id"]]
    assert sorted(i["id"] for i in local["skipped"]["items"]) == sorted(r["id"] for r in asked[:2])
    assert en["per_culture"]["MEX"]["n"] == len(asked) - 1
    assert local["per_culture"]["MEX"]["n"] == len(asked) - 2
