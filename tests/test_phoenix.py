"""A real Phoenix server receives a two-turn conversation, read back through Phoenix's client."""

from __future__ import annotations

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


def test_two_turns_appear_in_phoenix_with_node_spans(phoenix, tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv(telemetry.ENDPOINT_ENV, phoenix.otlp_endpoint)
    monkeypatch.setenv(telemetry.PROJECT_ENV, PROJECT)
    assistant = tiny_assistant(tiny_base, tmp_path)
    try:
        assistant.invoke("I'm from Greece. What do we eat at Easter?", "phx", user_id="ana")
        second = assistant.invoke("Which is more polite: (A) bowing (B) shaking hands?", "phx")
        assert telemetry.flush(30.0)
    finally:
        telemetry.shutdown()
    spans = phoenix.spans(PROJECT)
    names = [s["name"] for s in spans]
    assert names.count("turn") == 2, names
    assert {n for n in names if n != "turn"} >= NODES
    for node in NODES:
        assert names.count(node) == 2, (node, names)
    traces = {s["context"]["trace_id"] for s in spans}
    assert len(traces) == 2  # one trace per turn

    def one(name: str, trace_of_turn: int) -> dict:
        root = next(
            s for s in spans if s["name"] == "turn" and _attr(s, "manyshores.turn") == trace_of_turn
        )
        return next(
            s
            for s in spans
            if s["name"] == name and s["context"]["trace_id"] == root["context"]["trace_id"]
        )

    assert _attr(one("turn", 1), "session.id") == "phx"
    assert _attr(one("turn", 1), "user.id") == "ana"
    assert one("detect", 1)["span_kind"] == "CHAIN"
    assert one("retrieve", 1)["span_kind"] == "RETRIEVER"
    assert one("expert", 2)["span_kind"] == "LLM"
    assert _attr(one("detect", 1), "manyshores.culture") == "GRC"
    assert _attr(one("expert", 2), "output.value") == second.values["expert_answers"][0]["text"]
    assert _attr(one("aggregate", 2), "manyshores.choice") == second.values["choice"]
    assert _attr(one("turn", 2), "output.value") == second.answer
