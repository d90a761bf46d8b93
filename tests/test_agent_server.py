"""The graph served by `langgraph dev` (LangGraph Agent Server), driven with `langgraph-sdk`.

Real server, real client, the real default model: schemas, threads, a streamed run, a second
turn that keeps the first turn's culture, state history, a human-in-the-loop interrupt answered
with a resume command, and the thread still there after the server restarts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from manyshores.testing.postgres import free_port

pytest.importorskip(
    "langgraph_api", reason="the `server` extra (langgraph-cli[inmem]) is not installed"
)
sdk = pytest.importorskip("langgraph_sdk", reason="langgraph-sdk is not installed")

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


class DevServer:
    """`langgraph dev` in its own directory (where it keeps its threads between restarts)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        # Graph paths are resolved from the working directory: point at this checkout.
        (workdir / "langgraph.json").write_text(
            json.dumps(
                {
                    "dependencies": [str(ROOT)],
                    "graphs": {"manyshores": f"{ROOT}/manyshores/graph/server.py:graph"},
                    "env": {},
                }
            )
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGSMITH_TRACING": "false",
            "MANYSHORES_MAX_NEW_TOKENS": "16",
        }
        cli = Path(sys.executable).parent / "langgraph"
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 (lives with the process)
        self.proc = subprocess.Popen(
            [str(cli), "dev", "--no-browser", "--no-reload", "--port", str(self.port)],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = sdk.get_sync_client(url=self.url)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.log_tail())
            try:
                client.assistants.search(graph_id="manyshores")
                return
            except Exception:
                time.sleep(1)
        raise AssertionError(f"langgraph dev did not start: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # a graceful stop writes its threads to disk
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")[-3000:]


@pytest.fixture()
def dev_server(tmp_path):
    server = DevServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _top_culture(values: dict) -> str:
    return values["posterior"]["cultures"][0]["id"]


def test_agent_server_schemas_threads_stream_interrupt_restart(dev_server):
    client = sdk.get_sync_client(url=dev_server.url)
    (assistant,) = client.assistants.search(graph_id="manyshores")
    assistant_id = assistant["assistant_id"]

    schemas = client.assistants.get_schemas(assistant_id)
    for key in ("input_schema", "output_schema", "state_schema"):
        properties = schemas[key]["properties"]
        assert {"messages", "posterior", "answer", "confirm_culture"} <= set(properties), key
    assert "cultures" in json.dumps(schemas["state_schema"])  # nested TypedDicts published

    thread = client.threads.create()
    thread_id = thread["thread_id"]
    updated_nodes, last_values = [], {}
    for part in client.runs.stream(
        thread_id,
        assistant_id,
        input={"messages": [{"role": "user", "content": "I'm from Kenya. What is breakfast?"}]},
        stream_mode=["values", "updates"],
    ):
        if part.event == "updates":
            updated_nodes.extend(part.data)
        elif part.event == "values":
            last_values = part.data
    assert [n for n in ("detect", "retrieve", "route", "aggregate", "respond")] == [
        n for n in updated_nodes if n in ("detect", "retrieve", "route", "aggregate", "respond")
    ]
    assert _top_culture(last_values) == "KEN" and last_values["answer"]

    second = client.runs.wait(
        thread_id,
        assistant_id,
        input={"messages": [{"role": "user", "content": "What should I cook for dinner?"}]},
    )
    assert _top_culture(second) == "KEN"  # from the first turn: this one names no culture
    assert [m["type"] for m in second["messages"]] == ["human", "ai", "human", "ai"]

    history = client.threads.get_history(thread_id, limit=50)
    assert len(history) >= 4
    turns = {h["values"].get("turn") for h in history if h["values"]}
    assert {1, 2} <= turns

    asked = client.threads.create()["thread_id"]
    client.runs.wait(
        asked,
        assistant_id,
        input={
            "messages": [{"role": "user", "content": "¿Qué desayunan normalmente las familias?"}],
            "confirm_culture": True,
        },
    )
    paused = client.threads.get_state(asked)
    assert paused["next"] and "answer" not in paused["values"]
    interrupts = [i for task in paused["tasks"] for i in task.get("interrupts", [])]
    assert len(interrupts[0]["value"]["candidates"]) >= 2
    resumed = client.runs.wait(asked, assistant_id, command={"resume": "MEX"})
    assert _top_culture(resumed) == "MEX" and resumed["answer"]

    dev_server.stop()
    dev_server.start()
    client = sdk.get_sync_client(url=dev_server.url)
    again = client.threads.get_state(thread_id)
    assert [m["type"] for m in again["values"]["messages"]] == ["human", "ai", "human", "ai"]
    third = client.runs.wait(
        thread_id,
        assistant_id,
        input={"messages": [{"role": "user", "content": "And for lunch?"}]},
    )
    assert len(third["messages"]) == 6 and _top_culture(third) == "KEN"
