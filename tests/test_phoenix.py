"""A real Phoenix server receives a two-turn conversation, read back through Phoenix's client."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from manyshores import telemetry
from manyshores.testing.phoenix import PYTHON_ENV, phoenix_python, start_phoenix
from tests.graph_fixtures import tiny_assistant

pytestmark = pytest.mark.phoenix

NODES = {"detect", "retrieve", "route", "expert", "aggregate", "respond"}
PROJECT = "manyshores-phoenix-test"


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory):
    python = phoenix_python()
    if python is None:
        pytest.skip(f"no Phoenix environment (`make phoenix-setup`, or set {PYTHON_ENV})")
    server = start_phoenix(tmp_path_factory.mktemp("phoenix"), python=python)
    yield server
    server.stop()


def _attr(span: dict, key: str):
    """An attribute from Phoenix's span JSON (flat dotted keys or nested dicts)."""
    attributes = span.get("attributes") or {}
    if key in attributes:
        return attributes[key]
    value: object = attributes
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _turns(spans: list[dict], session: str) -> list[tuple[dict, list[str]]]:
    """(root span, node span names) of each turn of one thread, in turn order."""
    roots = [s for s in spans if s["name"] == "turn" and _attr(s, "session.id") == session]
    roots.sort(key=lambda s: _attr(s, "manyshores.turn"))
    return [
        (
            root,
            sorted(
                s["name"]
                for s in spans
                if s["name"] in NODES and s["context"]["trace_id"] == root["context"]["trace_id"]
            ),
        )
        for root in roots
    ]


def _assert_turns(spans: list[dict], session: str, turns: int) -> list[tuple[dict, list[str]]]:
    found = _turns(spans, session)
    assert len(found) == turns, [s["name"] for s in spans]
    assert len({root["context"]["trace_id"] for root, _ in found}) == turns  # a trace per turn
    for root, nodes in found:
        # Every node of the turn once; `expert` only when a model answered (not from evidence).
        assert set(nodes) >= NODES - {"expert"} and len(nodes) == len(set(nodes)), nodes
        assert _attr(root, "output.value")
    return found


def test_two_turns_appear_in_phoenix_with_node_spans(phoenix, tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv(telemetry.ENDPOINT_ENV, phoenix.otlp_endpoint)
    monkeypatch.setenv(telemetry.PROJECT_ENV, PROJECT)
    assistant = tiny_assistant(tiny_base, tmp_path)
    try:
        first = assistant.invoke("I'm from Greece. What do we eat at Easter?", "phx", user_id="ana")
        second = assistant.invoke("Which is more polite: (A) bowing (B) shaking hands?", "phx")
        assert telemetry.flush(30.0)
    finally:
        telemetry.shutdown()
    spans = phoenix.spans(PROJECT)
    turns = _assert_turns(spans, "phx", 2)
    assert [sorted(nodes) for _, nodes in turns] == [sorted(first.steps), sorted(second.steps)]

    def one(name: str, turn: int) -> dict:
        trace = turns[turn - 1][0]["context"]["trace_id"]
        return next(s for s in spans if s["name"] == name and s["context"]["trace_id"] == trace)

    assert _attr(one("turn", 1), "session.id") == "phx"
    assert _attr(one("turn", 1), "user.id") == "ana"
    assert one("detect", 1)["span_kind"] == "CHAIN"
    assert one("retrieve", 1)["span_kind"] == "RETRIEVER"
    assert one("expert", 2)["span_kind"] == "LLM"
    assert _attr(one("detect", 1), "manyshores.culture") == "GRC"
    assert _attr(one("expert", 2), "output.value") == second.values["expert_answers"][0]["text"]
    assert _attr(one("aggregate", 2), "manyshores.choice") == second.values["choice"]
    assert _attr(one("turn", 2), "output.value") == second.answer


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_base, tmp_path_factory):
    """The tiny model saved as a local model directory, for the CLI in its own process."""
    path = tmp_path_factory.mktemp("tiny-model")
    tiny_base.model.save_pretrained(path, safe_serialization=True)
    tiny_base.tokenizer.save_pretrained(path)
    return path


def _cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "manyshores.cli.main", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_ask_chat_and_serve_turns_appear_in_phoenix(
    phoenix, tiny_base, tiny_model_dir, tmp_path, monkeypatch
):
    project = PROJECT + "-entry-points"
    env = {
        **os.environ,
        "MANYSHORES_HOME": str(tmp_path / "home"),
        "MANYSHORES_BASE_MODEL": str(tiny_model_dir),
        "MANYSHORES_TAVILY_API_KEY": "",
        "OMP_NUM_THREADS": "1",
        telemetry.ENDPOINT_ENV: phoenix.otlp_endpoint,
        telemetry.PROJECT_ENV: project,
    }
    # `ask`, twice in one thread: each process sends its turn before it exits.
    _cli(["ask", "I'm from Greece. What do we eat at Easter?", "--thread", "phx-ask"], env)
    _cli(["ask", "What about in Japan?", "--thread", "phx-ask"], env)
    # `chat`: two turns typed on standard input, then end of input.
    _cli(
        ["chat", "--thread", "phx-chat"],
        env,
        stdin="I'm from Greece. What do we eat at Easter?\nWhat about in Japan?\n/quit\n",
    )
    # `manyshores serve`: two requests of one conversation through the OpenAI client.
    monkeypatch.setenv(telemetry.ENDPOINT_ENV, phoenix.otlp_endpoint)
    monkeypatch.setenv(telemetry.PROJECT_ENV, project)
    from openai import OpenAI

    from tests.serve_fixtures import running_server

    try:
        with running_server(tiny_assistant(tiny_base, tmp_path / "serve")) as url:
            client = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
            for text in ("I'm from Greece. What do we eat at Easter?", "What about in Japan?"):
                client.chat.completions.create(
                    model="manyshores",
                    messages=[{"role": "user", "content": text}],
                    metadata={"thread_id": "phx-serve"},
                )
        assert telemetry.flush(30.0)
    finally:
        telemetry.shutdown()
    spans = phoenix.spans(project)
    for session in ("phx-ask", "phx-chat", "phx-serve"):
        turns = _assert_turns(spans, session, 2)
        detect = [
            s
            for s in spans
            if s["name"] == "detect"
            and s["context"]["trace_id"] == turns[1][0]["context"]["trace_id"]
        ][0]
        assert _attr(detect, "manyshores.culture") == "JPN", session
