"""OpenTelemetry export: spans of real turns reach a local OTLP/HTTP receiver; export off costs
no import; a closed collector port never fails a turn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from manyshores import telemetry
from tests.graph_fixtures import tiny_assistant
from tests.otlp_receiver import start_receiver

NODES = ("detect", "retrieve", "route", "expert", "aggregate", "respond")
SECRET = "tvly-not-a-real-key-4242"


@pytest.fixture(scope="module")
def assistant(tiny_base, tmp_path_factory):
    return tiny_assistant(tiny_base, tmp_path_factory.mktemp("otel"))


@pytest.fixture
def export_to(monkeypatch):
    def set_endpoint(url: str, timeout_s: float = 2.0) -> None:
        monkeypatch.setenv(telemetry.ENDPOINT_ENV, url)
        monkeypatch.setenv(telemetry.PROJECT_ENV, "manyshores-test")
        monkeypatch.setenv(telemetry.TIMEOUT_ENV, str(timeout_s))

    yield set_endpoint
    telemetry.shutdown()


def test_two_turns_arrive_as_one_trace_per_turn_with_node_spans(assistant, export_to, monkeypatch):
    receiver, server = start_receiver()
    try:
        monkeypatch.setenv("MANYSHORES_TAVILY_API_KEY", SECRET)  # must never leave in a span
        export_to(receiver.url)
        first = assistant.invoke(
            "I'm from Greece. What do we eat at Easter?", "otel-a", user_id="ana"
        )
        second = assistant.invoke(
            f"Which is more polite: (A) bowing (B) shaking hands? my key is {SECRET}",
            "otel-a",
            user_id="ana",
        )
        assert telemetry.flush(10.0)
    finally:
        server.shutdown()
    roots = sorted(receiver.by_name("turn"), key=lambda s: s.attributes["manyshores.turn"])
    assert [r.attributes["manyshores.turn"] for r in roots] == [1, 2]
    # An answer from evidence runs no expert; the option question does.
    assert "expert" not in first.steps and "expert" in second.steps
    for root, turn in zip(roots, (first, second), strict=True):
        assert root.parent_id == ""
        assert root.attributes["session.id"] == "otel-a"
        assert root.attributes["user.id"] == "ana"
        assert root.attributes["openinference.span.kind"] == "CHAIN"
        assert root.resource["openinference.project.name"] == "manyshores-test"
        children = [s for s in receiver.spans if s.parent_id == root.span_id]
        assert sorted(s.name for s in children) == sorted(turn.steps)
        assert set(turn.steps) <= set(NODES)
        assert all(s.trace_id == root.trace_id for s in children)
        assert all(root.start_ns <= s.start_ns <= s.end_ns <= root.end_ns for s in children)
    assert roots[0].trace_id != roots[1].trace_id
    assert "Easter" in roots[0].attributes["input.value"]
    assert roots[1].attributes["output.value"] == second.answer

    kinds = {s.name: s.attributes["openinference.span.kind"] for s in receiver.spans}
    assert kinds["retrieve"] == "RETRIEVER" and kinds["expert"] == "LLM"
    assert kinds["detect"] == kinds["route"] == kinds["aggregate"] == "CHAIN"
    detect = receiver.by_name("detect")[0].attributes
    assert detect["manyshores.culture"] == "GRC" and 0.5 < detect["manyshores.culture.p"] <= 1
    assert any("mention" in s for s in detect["manyshores.signals"])
    assert detect["manyshores.task"] == "open_qa"
    route = receiver.by_name("route")[1].attributes
    assert route["manyshores.experts"][0].startswith(second.experts[0]["id"])
    expert = [s for s in receiver.by_name("expert") if s.trace_id == roots[1].trace_id][0]
    assert expert.attributes["output.value"] == second.values["expert_answers"][0]["text"]
    assert len(expert.attributes["manyshores.expert.option_probs"]) == 2
    aggregate = [s for s in receiver.by_name("aggregate") if s.trace_id == roots[1].trace_id][0]
    assert aggregate.attributes["manyshores.choice"] == second.values["choice"]
    retrieve = receiver.by_name("retrieve")[0].attributes
    assert any("web search skipped" in n for n in retrieve["manyshores.notes"])
    every_value = repr([s.attributes for s in receiver.spans])
    assert SECRET not in every_value and "[redacted]" in every_value


def test_a_closed_collector_port_never_fails_a_turn(assistant, export_to, monkeypatch):
    question = "Which is more polite: (A) bowing (B) shaking hands?"
    monkeypatch.delenv(telemetry.ENDPOINT_ENV, raising=False)
    assistant.invoke(question, "otel-warm")  # loads what the turn needs, export off
    start = time.perf_counter()
    assistant.invoke(question, "otel-off")
    off_s = time.perf_counter() - start

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    timeout_s = 1.0
    export_to(f"http://127.0.0.1:{port}/v1/traces", timeout_s=timeout_s)
    start = time.perf_counter()
    result = assistant.invoke(question, "otel-down")
    down_s = time.perf_counter() - start
    # No culture named: the reply says the answer depends on the culture; the turn completes.
    assert result.values["answer"] and result.values["task"]["options"] == [
        "bowing",
        "shaking hands",
    ]
    assert telemetry.exporter() is not None  # export was on for that turn
    # The export runs in the background: the turn never waits for the collector, and a flush
    # gives up after the exporter's timeout (retries included).
    assert down_s < off_s + timeout_s + 2.0, (off_s, down_s)
    start = time.perf_counter()
    telemetry.flush()
    flush_s = time.perf_counter() - start
    assert flush_s < timeout_s + 1.5, flush_s
    print(f"turn {off_s:.3f} s export off, {down_s:.3f} s collector down; flush {flush_s:.3f} s")


def test_export_off_builds_no_exporter():
    code = (
        "import sys, manyshores.graph.assistant, manyshores.telemetry as t\n"
        "t.record_node('detect', {}, {}, {'turn': 1}, {}, 0, 1)\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.exporter')),"
        " len(t._exporters))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != telemetry.ENDPOINT_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    # (other libraries may import the OpenTelemetry API; the exporter is ours alone)
    assert out.stdout.strip() == "[] 0"


def test_attributes_are_scrubbed_capped_and_typed():
    secrets = ["sk-abcdef123456"]
    assert telemetry._attribute("key sk-abcdef123456 here", secrets) == "key [redacted] here"
    assert len(telemetry._attribute("x" * 10_000, [])) == telemetry.MAX_ATTRIBUTE_CHARS + 1
    assert telemetry._attribute([0.5, 1], []) == [0.5, 1.0]
    assert telemetry._attribute({"a": 1}, []) == '{"a": 1}'
    assert telemetry._attribute(None, []) is None
