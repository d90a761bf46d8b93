"""The chat model against a real OpenAI-compatible server: the vLLM engine's server (`make
engine`), serving the default model, started here by `manyshores engine start`'s code and
addressed as any user addresses theirs (`MANYSHORES_CHAT_MODEL=openai:<model>`,
`MANYSHORES_CHAT_MODEL_BASE_URL=<url>/v1`).

Grounded replies cite listed sources only; a persona committee on an ambiguous question shows
each culture's answer and the aggregate; a survey question is scored from the server's
log-probabilities; a server that is down or too slow falls back with a note and a grounded
request keeps its evidence part; `eval blend --systems graph` and `eval wvs`'s chat systems run
on a tiny subset. The 135M model's text is poor; what is tested is what the system does with it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from manyshores.state import ExpertAnswer

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[1]
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
VLLM_INSTALLED = ROOT / ".venv-vllm" / ".installed"
TOAST = "Write a short toast for a wedding in South Korea"
BOTH = "Write a short wedding wish for friends in South Korea or in China"
SURVEY = (
    "I'm from Kenya. How important is family in your life? Options: Very important, "
    "Rather important, Not very important, Not at all important"
)
CITATION = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def served(default_base, tmp_path_factory):
    """(spec, base URL) of a fresh vLLM server serving the default model."""
    if not (VLLM_PYTHON.is_file() and VLLM_INSTALLED.is_file()):
        pytest.skip(f"no complete vLLM environment at {VLLM_PYTHON.parents[1]}: run `make engine`")
    pytest.importorskip("langchain_openai")
    from manyshores.config import Settings
    from manyshores.experts.vllm.server import start, stop

    home = tmp_path_factory.mktemp("vllm-chat-home")
    settings = Settings(home=home, vllm_python=VLLM_PYTHON, engine="vllm")
    state = start(settings, wait_s=600)
    try:
        yield f"openai:{state.model}", f"{state.url}/v1"
    finally:
        stop(settings)


def _assistant(home: Path, spec: str, url: str, **over):
    from manyshores.components import Components
    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.graph.checkpoints import open_settings_checkpointer

    settings = Settings(
        home=home,
        chat_model=spec,
        chat_model_base_url=url,
        chat_model_timeout_s=over.pop("chat_model_timeout_s", 120.0),
        tavily_api_key=None,
        **over,
    )
    components = Components(settings=settings)
    return CultureAssistant(components, open_settings_checkpointer(settings))


def _allowed(answer: ExpertAnswer, sources: list[dict]) -> set[int]:
    position = {s["ref"]: i for i, s in enumerate(sources, start=1)}
    return {position[r] for r in answer.get("sources", []) if r in position}


def test_a_grounded_reply_cites_existing_sources_only(served, tmp_path):
    spec, url = served
    result = _assistant(tmp_path, spec, url).invoke(TOAST, "toast")
    v, data = result.values, result.to_json()
    [expert] = v["expert_answers"]
    assert expert["expert_id"] == "persona:KOR" and expert["runtime"] == f"chat_model:{spec}"
    assert expert["text"].strip() and "note" not in expert  # the server wrote it
    cited = {int(n) for n in CITATION.findall(result.answer)}
    if v["wording"] == "generated":
        assert cited <= _allowed(expert, v["sources"]) and expert["sources"]
        assert data["text_runtime"] == f"chat_model:{spec}"
    else:  # all of it was the prompt copied back: the evidence reply stands, and says why
        assert any("no chat model text shown" in n for n in v["notes"])
        assert result.answer.startswith("I cannot write such a text well.")
    assert all(1 <= n <= len(v["sources"]) for n in cited)


def test_an_ambiguous_question_runs_one_persona_per_culture_and_aggregates(served, tmp_path):
    spec, url = served
    result = _assistant(tmp_path, spec, url).invoke(BOTH, "both")
    v = result.values
    answers = v["expert_answers"]
    assert sorted(a["culture"] for a in answers) == ["CHN", "KOR"]
    assert all(a["runtime"] == f"chat_model:{spec}" and a["text"].strip() for a in answers)
    assert abs(sum(a["weight"] for a in answers) - 1.0) < 1e-6
    for a in answers:  # its own culture's evidence and the passages of no culture
        theirs = {s["ref"] for s in v["sources"] if s.get("culture") in (a["culture"], None)}
        assert set(a["sources"]) <= theirs
    # The trace shows each persona's answer and the step that chose among them.
    steps = {s["node"]: s for s in v["steps"] if s["turn"] == v["turn"]}
    assert {"expert", "aggregate"} <= set(steps)
    if v["wording"] == "generated":
        assert any(n.startswith("2 experts answered; disagreement") for n in v["notes"])


def test_a_survey_question_is_scored_from_the_servers_logprobs(served, tmp_path):
    from manyshores.survey.chat_calibration import ChatCalibration, save_chat_calibration
    from manyshores.survey.decision import Calibration, decide

    spec, url = served
    save_chat_calibration(
        tmp_path / "experts", ChatCalibration(spec, survey_weight=0.3, measured={"test": 1})
    )
    v = _assistant(tmp_path, spec, url).invoke(SURVEY, "survey").values
    [chat] = [a for a in v["expert_answers"] if a["expert_id"] == "chat:KEN"]
    [memory] = [a for a in v["expert_answers"] if a["expert_id"] == "survey-memory"]
    assert chat["method"] == "logprobs" and len(chat["option_probs"]) == 4
    assert abs(sum(chat["option_probs"]) - 1.0) < 1e-6 and min(chat["option_probs"]) > 0
    expected = decide(None, memory["option_probs"], Calibration(), chat["option_probs"], 0.3)
    assert max(abs(a - b) for a, b in zip(v["option_probs"], expected.probs, strict=True)) < 1e-6


@pytest.mark.parametrize("down", ["refused", "slow"])
def test_a_server_down_or_slow_falls_back_and_keeps_the_evidence(served, tmp_path, down):
    from manyshores.testing.postgres import free_port

    spec, url = served
    if down == "refused":
        url, timeout = f"http://127.0.0.1:{free_port()}/v1", 5.0
    else:
        timeout = 0.05  # the real server cannot answer this fast
    v = _assistant(tmp_path, spec, url, chat_model_timeout_s=timeout).invoke(TOAST, down).values
    notes = " ".join(v["notes"])
    assert "the chat model" in notes and "keeps its evidence part" in notes
    assert v["answer"].startswith("I cannot write such a text well.")
    assert "congratulatory money [1]" in v["answer"]


def test_the_evaluations_run_with_the_chat_model(served, tmp_path, test_data, monkeypatch):
    from typer.testing import CliRunner

    from manyshores.cli.main import app
    from manyshores.config import get_settings
    from manyshores.eval.jsonl import read_jsonl
    from manyshores.paths import PACKAGE_WVS

    spec, url = served
    monkeypatch.setenv("MANYSHORES_CHAT_MODEL", spec)
    monkeypatch.setenv("MANYSHORES_CHAT_MODEL_BASE_URL", url)
    monkeypatch.setenv("MANYSHORES_CHAT_MODEL_TIMEOUT_S", "120")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        blend_out, blend_report = tmp_path / "blend.jsonl", tmp_path / "blend.json"
        args = ["eval", "blend", "--data", str(test_data / "blend"), "--systems", "graph"]
        args += ["--language", "en", "--limit", "1", "--cultures", "KOR,CHN"]
        done = runner.invoke(
            app, [*args, "--out", str(blend_out), "--json", str(blend_report), "--no-progress"]
        )
        assert done.exit_code == 0, done.output
        wvs_data = tmp_path / "dev.json"
        dev = json.loads((test_data / "wvs" / "dev.json").read_text())
        wvs_data.write_text(json.dumps({c: dev[c] for c in ("KEN", "USA")}))
        wvs_out, wvs_report = tmp_path / "wvs.jsonl", tmp_path / "wvs.json"
        args = ["eval", "wvs", "--questions", str(PACKAGE_WVS / "questions.json")]
        args += ["--data", str(wvs_data), "--systems", "memory,chat,chat_alone", "--limit", "2"]
        done = runner.invoke(app, [*args, "--out", str(wvs_out), "--json", str(wvs_report)])
        assert done.exit_code == 0, done.output
    finally:
        get_settings.cache_clear()
    rows = read_jsonl(blend_out)
    assert len(rows) == 2 and {r["culture"] for r in rows} == {"KOR", "CHN"}
    report = json.loads(blend_report.read_text())
    assert report["settings"]["chat_model"] == spec and report["graph"]["en"]["replies"] == 2
    records = read_jsonl(wvs_out)
    assert {r["system"] for r in records} == {"memory", "chat", "chat_alone"}
    assert len(records) == 3 * 2 * 2
    scores = json.loads(wvs_report.read_text())
    assert {"memory", "chat", "chat_alone"} <= set(scores)
