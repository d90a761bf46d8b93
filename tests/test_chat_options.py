"""A chat model on option questions: its option probabilities from the server's log-probabilities,
else sampled answers counted; one more expert in the survey decision (by its calibrated weight)
and in the everyday options; the `chat` systems of `eval wvs`; its calibration.

LangChain's real `ChatOpenAI` against the protocol stand-in (`FakeVllmServer`), which answers
`logprobs` as vLLM's server does (or not at all, as a server without them); the real server is
in `test_chat_model_vllm.py`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from manyshores.config import Settings
from manyshores.runtime.chat_options import (
    ChatOptionScorer,
    distribution_from_top,
    letter_index,
)
from manyshores.runtime.chat_text import ChatModelText
from manyshores.runtime.scoring import survey_messages
from manyshores.survey.chat_calibration import (
    ChatCalibration,
    read_chat_calibration,
    save_chat_calibration,
)
from manyshores.survey.decision import Calibration, decide
from manyshores.testing.postgres import free_port
from manyshores.testing.vllm_server import FakeVllmServer
from tests.graph_fixtures import tiny_assistant

pytest.importorskip("langchain_openai")

SPEC = "openai:served-model"
OPTIONS = ["Very important", "Rather important", "Not very important", "Not at all important"]
SURVEY = f"Options: {', '.join(OPTIONS)}"
FAKE_PROBS = [math.exp(v) for v in (-0.5, -1.5, -2.5, -3.5)]
FAKE_PROBS = [p / sum(FAKE_PROBS) for p in FAKE_PROBS]
"""What the stand-in's default log-probabilities give over four letters."""


def _chat(url: str, timeout_s: float = 5.0) -> ChatModelText:
    return ChatModelText.from_settings(
        Settings(chat_model=SPEC, chat_model_base_url=f"{url}/v1", chat_model_timeout_s=timeout_s)
    )


def _messages() -> list[dict[str, str]]:
    return survey_messages("How important is family?", OPTIONS, None, "Answer as a Kenyan.")


def _logprob_requests(server: FakeVllmServer) -> list[dict]:
    return [r for r in server.requests if r.get("logprobs")]


# ---- the scorer --------------------------------------------------------------------------------


def test_letters_are_read_from_tokens_and_answers():
    assert [letter_index(t, 4) for t in ["A", " b", "(C)", "D.", "E", "The"]] == [
        0, 1, 2, 3, None, None,
    ]  # fmt: skip
    said = ["B", "(C)", "B. Rather important", "Answer: D", "A typical person"]
    assert [letter_index(t, 4, whole=False) for t in said] == [1, 2, 1, 3, None]


def test_letters_outside_the_top_share_what_is_left():
    top = [{"token": "A", "logprob": math.log(0.6)}, {"token": " A", "logprob": math.log(0.1)},
           {"token": "B", "logprob": math.log(0.2)}, {"token": "The", "logprob": math.log(0.05)}]  # fmt: skip
    probs = distribution_from_top(top, 4)
    assert probs is not None and abs(sum(probs) - 1) < 1e-9
    # A = 0.7, B = 0.2; C and D share the 0.05 left, each at most the least listed token's 0.05.
    assert [round(p, 4) for p in probs] == [round(x / 0.95, 4) for x in (0.7, 0.2, 0.025, 0.025)]
    assert distribution_from_top([{"token": "The", "logprob": -0.1}], 4) is None


def test_options_come_from_the_servers_logprobs():
    with FakeVllmServer() as server:
        scorer = ChatOptionScorer(_chat(server.url))
        found = scorer.score(_messages(), OPTIONS)
        [request] = server.requests
    assert found.method == "logprobs" and found.requests == 1 and scorer.logprobs is True
    assert max(abs(a - b) for a, b in zip(found.probs, FAKE_PROBS, strict=True)) < 1e-9
    assert request["logprobs"] is True and request["top_logprobs"] == 20
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 1


def test_without_logprobs_a_few_answers_are_sampled_and_counted():
    replies = ["B", "B. Rather important", "A", "(B)", "no idea", "Rather important"]
    with FakeVllmServer(chat_logprobs=False, replies=replies) as server:
        scorer = ChatOptionScorer(_chat(server.url), samples=5)
        found = scorer.score(_messages(), OPTIONS)
        again = scorer.score(_messages(), OPTIONS)
        requests = list(server.requests)
    # The first request asked for log-probabilities and got none (its answer "B" is not
    # counted); five samples at temperature 1, each with its own seed, answered in turn:
    # B, A, B, -, B.
    assert found.method == "sampling" and "no log-probabilities" in found.note
    counts = [1, 3, 0, 0]
    assert found.probs == [(c + 0.5) / (4 + 0.5 * 4) for c in counts]
    assert sorted(r.get("seed") for r in requests[1:6]) == [0, 1, 2, 3, 4]  # sent together
    assert all(r["temperature"] == 1.0 for r in requests[1:6])
    assert again.method == "sampling" and len(requests) == 11  # not asked for logprobs again


# ---- the survey decision -----------------------------------------------------------------------


def test_the_chat_model_joins_survey_memory_by_its_weight():
    memory, chat = [0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]
    cal = Calibration(choice_sharpen=1.0)
    assert decide(None, memory, cal, chat, 0.0).probs == memory
    joined = decide(None, memory, cal, chat, 0.5).probs
    raw = [m * c**0.5 for m, c in zip(memory, chat, strict=True)]
    assert max(abs(a - r / sum(raw)) for a, r in zip(joined, raw, strict=True)) < 1e-5
    assert decide([0.25] * 4, None, cal, chat).probs == chat  # no memory: the chat model's


# ---- graph turns -------------------------------------------------------------------------------


def _assistant(tiny_base, home: Path, server: FakeVllmServer, **over):
    return tiny_assistant(
        tiny_base, home, chat_model=SPEC, chat_model_base_url=f"{server.url}/v1", **over
    )


def _calibrate(home: Path, **weights: float) -> None:
    save_chat_calibration(home / "experts", ChatCalibration(SPEC, **weights, measured={"x": 1}))


def test_an_uncalibrated_chat_model_is_not_asked_where_survey_memory_answers(tiny_base, tmp_path):
    with FakeVllmServer() as server:
        result = _assistant(tiny_base, tmp_path, server).invoke(
            f"I'm from Kenya. How important is family in your life? {SURVEY}", "ke"
        )
        asked = _logprob_requests(server)
    assert not asked
    assert {a["expert_id"] for a in result.values["expert_answers"]} == {"survey-memory"}


def test_a_survey_question_is_scored_from_logprobs_and_joins_memory(tiny_base, tmp_path):
    _calibrate(tmp_path, survey_weight=0.5)
    with FakeVllmServer() as server:
        result = _assistant(tiny_base, tmp_path, server).invoke(
            f"I'm from Kenya. How important is family in your life? {SURVEY}", "ke"
        )
        [request] = _logprob_requests(server)
    v = result.values
    [chat] = [a for a in v["expert_answers"] if a["expert_id"] == "chat:KEN"]
    [memory] = [a for a in v["expert_answers"] if a["expert_id"] == "survey-memory"]
    assert chat["method"] == "logprobs" and chat["runtime"] == f"chat_model:{SPEC}"
    assert max(abs(a - b) for a, b in zip(chat["option_probs"], FAKE_PROBS, strict=True)) < 1e-6
    assert "Kenya" in request["messages"][-1]["content"]
    expected = decide(None, memory["option_probs"], Calibration(), chat["option_probs"], 0.5)
    assert max(abs(a - b) for a, b in zip(v["option_probs"], expected.probs, strict=True)) < 1e-6
    assert v["choice"] == expected.choice
    assert any("joined survey memory, weight 0.5" in n for n in v["notes"])
    # The reply quotes the shares people gave (memory's), not the product.
    top = max(range(4), key=lambda i: memory["option_probs"][i])
    assert f"“{OPTIONS[top]}” ({round(100 * memory['option_probs'][top])}%)" in v["answer"]


def test_a_failing_chat_model_is_left_out_of_the_decision(tiny_base, tmp_path):
    _calibrate(tmp_path, survey_weight=0.5)
    with FakeVllmServer(mode="500") as server:
        result = _assistant(tiny_base, tmp_path, server).invoke(
            f"I'm from Kenya. How important is family in your life? {SURVEY}", "ke"
        )
    v = result.values
    [memory] = [a for a in v["expert_answers"] if a["expert_id"] == "survey-memory"]
    assert v["option_probs"] == memory["option_probs"]
    assert any("option probabilities are left out" in n for n in v["notes"])


def test_everyday_options_without_evidence_take_the_chat_models_pick(tiny_base, tmp_path):
    with FakeVllmServer() as server:
        result = _assistant(tiny_base, tmp_path, server).invoke(
            "What do people in Kenya usually eat with beer? Options: nyama choma, kimchi, tapas",
            "beer",
        )
    v = result.values
    three = [p / sum(FAKE_PROBS[:3]) for p in FAKE_PROBS[:3]]
    assert max(abs(a - b) for a, b in zip(v["option_probs"], three, strict=True)) < 1e-6
    assert v["answer"] == (
        "I have no information about this for Kenya.\nA language model's guess for Kenya, not "
        "people's answers to this question: “nyama choma”."
    )


def test_everyday_options_weigh_the_chat_model_by_its_everyday_weight(tiny_base, tmp_path):
    question = "What time do people in Spain usually have dinner? Options: 13:00, 21:00, 07:00"
    with FakeVllmServer() as server:
        plain = _assistant(tiny_base, tmp_path / "a", server).invoke(question, "plain").values
        _calibrate(tmp_path / "b", everyday_weight=1.0)
        joined = _assistant(tiny_base, tmp_path / "b", server).invoke(question, "joined").values
    chat = [p / sum(FAKE_PROBS[:3]) for p in FAKE_PROBS[:3]]
    raw = [e * c for e, c in zip(plain["option_probs"], chat, strict=True)]
    expected = [r / sum(raw) for r in raw]
    assert max(abs(a - b) for a, b in zip(joined["option_probs"], expected, strict=True)) < 1e-4


# ---- evaluation and calibration ----------------------------------------------------------------


def _dev_subset(test_data: Path, tmp_path: Path, n: int = 2) -> Path:
    dev = json.loads((test_data / "wvs" / "dev.json").read_text())
    qids = sorted(dev["KEN"])[:n]
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({c: {q: dev[c][q] for q in qids} for c in ("KEN", "USA")}))
    return path


def test_eval_wvs_chat_systems_run_the_graphs_decision(test_data, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from manyshores.cli.main import app
    from manyshores.config import get_settings
    from manyshores.eval.jsonl import read_jsonl
    from manyshores.paths import PACKAGE_WVS

    data = _dev_subset(test_data, tmp_path, n=3)
    out, report = tmp_path / "p.jsonl", tmp_path / "r.json"
    with FakeVllmServer() as server:
        monkeypatch.setenv("MANYSHORES_CHAT_MODEL", SPEC)
        monkeypatch.setenv("MANYSHORES_CHAT_MODEL_BASE_URL", f"{server.url}/v1")
        get_settings.cache_clear()
        try:
            args = ["eval", "wvs", "--questions", str(PACKAGE_WVS / "questions.json")]
            args += ["--data", str(data), "--systems", "memory,chat,chat_alone", "--limit", "2"]
            done = CliRunner().invoke(app, [*args, "--out", str(out), "--json", str(report)])
        finally:
            get_settings.cache_clear()
        asked = _logprob_requests(server)
    assert done.exit_code == 0, done.output
    records = read_jsonl(out)
    assert len(records) == 3 * 2 * 2 and len(asked) == 2 * 2  # --limit 2 questions, 2 countries
    by = {(r["system"], r["country"], r["qid"]): r for r in records}
    for (system, country, qid), r in by.items():
        if system == "chat_alone":
            assert max(abs(a - b) for a, b in zip(r["probs"], FAKE_PROBS, strict=False)) < 1e-5 or (
                len(r["probs"]) != 4
            )
        if system == "chat":  # uncalibrated: weight 0, the decision is survey memory's
            assert r["probs"] == by[("memory", country, qid)]["probs"]
    assert {"memory", "chat", "chat_alone"} <= set(json.loads(report.read_text()))


def test_calibrating_the_chat_model_chooses_and_stores_its_weight(test_data, tmp_path):
    from manyshores.eval.runners.calibrate import WEIGHT_GRID
    from manyshores.eval.runners.calibrate_chat import calibrate_chat
    from manyshores.survey.memory import SurveyMemory

    data = _dev_subset(test_data, tmp_path, n=4)
    memory = SurveyMemory.from_package()
    with FakeVllmServer() as server:
        scorer = ChatOptionScorer(_chat(server.url))
        found, report = calibrate_chat(
            scorer, memory, Calibration(), data, tmp_path / "cache", repeats=1, progress=False
        )
        asked = len(server.requests)
        again, _ = calibrate_chat(
            scorer, memory, Calibration(), data, tmp_path / "cache", repeats=1, progress=False
        )
        assert len(server.requests) == asked  # cached: nothing asked again
    assert asked == report["rows"] == 8 and report["methods"] == {"logprobs": 8}
    assert found.survey_weight in WEIGHT_GRID and found.survey_weight == again.survey_weight
    assert set(report["cross_validation"]["held_out"]) == {"spa", "jsd_align", "majority_acc"}
    path = save_chat_calibration(tmp_path / "store", found)
    assert read_chat_calibration(tmp_path / "store", SPEC) == found
    assert read_chat_calibration(tmp_path / "store", "openai:other").survey_weight == 0.0
    assert path.parent.name == "chat-models"


def test_an_unreachable_chat_model_fails_within_its_timeout():
    import time

    from manyshores.runtime.text import TextRuntimeError

    scorer = ChatOptionScorer(_chat(f"http://127.0.0.1:{free_port()}", timeout_s=1.0))
    start = time.monotonic()
    with pytest.raises(TextRuntimeError, match="Connection error"):
        scorer.score(_messages(), OPTIONS)
    with pytest.raises(TextRuntimeError, match="failed recently"):
        scorer.score(_messages(), OPTIONS)  # left alone for a while: not asked again
    assert time.monotonic() - start < 3.0


def test_the_everyday_weight_is_the_exponent_that_answers_most_tuning_items():
    from manyshores.eval.runners.blend_mc import fit_chat_weight

    # The evidence leans wrong on the second item; the chat model, sure of the right one, fixes
    # it from exponent 0.25 on; from 0.5 on it overrules the evidence on the first item too.
    rows = [
        {"wording": "related", "answer": 0, "probs": [0.6, 0.4], "chat": [0.2, 0.8]},
        {"wording": "related", "answer": 1, "probs": [0.55, 0.45], "chat": [0.1, 0.9]},
        {"wording": "related", "answer": 0, "probs": [0.9, 0.1], "chat": []},  # no chat answer
        {"wording": "none", "answer": 0, "probs": [], "chat": [0.9, 0.1]},  # no evidence
    ]
    weight, accuracy = fit_chat_weight(rows)
    assert accuracy == {"0.0": 0.5, "0.25": 1.0, "0.5": 0.5, "1.0": 0.5, "2.0": 0.5}
    assert weight == 0.25
