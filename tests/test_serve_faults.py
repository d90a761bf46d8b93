"""Faults under load: the server SIGKILLed mid-load and restarted, PostgreSQL restarted mid-load,
and an unreachable PostgreSQL named in a clear error. (A client leaving mid-stream is in
test_serve.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from manyshores.errors import CheckpointStoreError
from manyshores.serve import ServeConfig
from manyshores.serve.config import THREAD_HEADER
from manyshores.testing.postgres import ThrowawayPostgres, find_pg_bin, free_port
from tests.graph_fixtures import tiny_assistant
from tests.serve_fixtures import running_server

pytest.importorskip("openai", reason="the openai client (dev extra) is not installed")

ROOT = Path(__file__).resolve().parents[1]
SERVER = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import uvicorn
from manyshores.serve import ServeConfig, create_app
from tests.tiny_model import build_tiny_base_model
from tests.graph_fixtures import tiny_assistant

assistant = tiny_assistant(build_tiny_base_model(), Path(sys.argv[1]), max_new_tokens=8)
app = create_app(assistant, ServeConfig(max_queue=64))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(home), str(port), str(ROOT)],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def _load(run, conversations: int, turns: int) -> threading.Thread:
    def drive() -> None:
        workers = [
            threading.Thread(target=run.conversation, args=(c, turns)) for c in range(conversations)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    thread = threading.Thread(target=drive)
    thread.start()
    return thread


def _wait_answered(run, n: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while sum(r.answered for r in run.records) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(r.answered for r in run.records) >= n


def test_server_sigkilled_mid_load_then_restarted(tmp_path):
    from manyshores.serve.bench import _Run, check_threads

    port = free_port()
    server = _start_server(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    run = _Run(url, None)
    conversations, turns = 4, 6
    load = _load(run, conversations, turns)
    try:
        _wait_answered(run, 6)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(30)
        load.join(120)
        answered_before = [r for r in run.records if r.answered]
        assert 6 <= len(answered_before) < conversations * turns
        assert {r.error for r in run.records if not r.answered} <= {
            "connection_failed",
            "stream_cut",
        }
        server = _start_server(tmp_path, port)
        # Every answered turn is stored; a turn cut off is either absent or stored unanswered
        # and pending (the thread's next call completes it) — never half-written.
        checked = check_threads(run, conversations)
        assert checked == {
            "lost_turns": 0,
            "mixed_turns": 0,
            "half_written_turns": 0,
            "duplicated_turns": 0,
        }
        # One more turn in every thread: afterwards each holds question-answer pairs only.
        for c in range(conversations):
            more = run.client().chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": f"[{run.run_id} c{c} t99] And then?"}],
                metadata={"thread_id": run.thread_id(c)},
            )
            assert more.choices[0].finish_reason == "stop"
            stored = run.stored(c)
            assert stored is not None and not stored["pending"]
            roles = [m["role"] for m in stored["messages"]]
            assert roles == ["user", "assistant"] * (len(roles) // 2)
            users = [m["content"] for m in stored["messages"] if m["role"] == "user"]
            sent = [
                r.text for r in sorted(run.records, key=lambda r: r.turn) if r.conversation == c
            ]
            assert users[-1].endswith("And then?")
            assert users[:-1] == [t for t in sent if t in users]  # in order, nothing foreign
            assert {r.text for r in answered_before if r.conversation == c} <= set(users)
    finally:
        server.kill()
        server.wait()


@pytest.mark.skipif(find_pg_bin() is None, reason="PostgreSQL server binaries not installed")
def test_postgres_restarted_mid_load_clear_errors_then_recovery(tiny_base, tmp_path):
    pytest.importorskip("langgraph.checkpoint.postgres", reason="the `postgres` extra is missing")
    from manyshores.serve.bench import _Run, check_threads

    with ThrowawayPostgres(fsync=False) as pg:
        db = pg.create_database("load")
        assistant = tiny_assistant(tiny_base, tmp_path, max_new_tokens=8, checkpoint_url=db)
        with running_server(assistant, ServeConfig(max_queue=64)) as url:
            run = _Run(url, None)
            conversations, turns = 3, 6
            load = _load(run, conversations, turns)
            _wait_answered(run, 3)
            pg.stop()
            # A short outage is ridden over (the pool waits for a connection); a longer one
            # answers 503 naming the server.
            probe = httpx.post(
                url + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "Hello?"}]},
                headers={THREAD_HEADER: "probe"},
                timeout=120,
            )
            assert probe.status_code == 503, probe.text
            assert (
                f"PostgreSQL server at {pg.database_url('load')}"
                in probe.json()["error"]["message"]
            )
            pg.start_again()
            load.join(300)
            errors = {r.error for r in run.records if r.error}
            # 503 before a stream began, or an error event inside one: database unavailable.
            assert errors <= {"503", "stream_error"}, errors
            assert errors, "the outage was not seen by any request"
            answered = sum(r.answered for r in run.records)
            assert answered >= 3 + conversations  # recovered: turns answered after the restart
            checked = check_threads(run, conversations)
            assert checked == {
                "lost_turns": 0,
                "mixed_turns": 0,
                "half_written_turns": 0,
                "duplicated_turns": 0,
            }


def test_unreachable_postgres_is_a_clear_error_naming_the_server(tmp_path):
    pytest.importorskip("langgraph.checkpoint.postgres", reason="the `postgres` extra is missing")
    from manyshores.components import Components
    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant

    port = free_port()  # nothing listens there
    url = f"postgresql://someone:s3cret@127.0.0.1:{port}/db"
    settings = Settings(home=tmp_path, checkpoint_url=url)
    with pytest.raises(CheckpointStoreError, match=f"127.0.0.1:{port}") as err:
        CultureAssistant(Components(settings=settings))
    assert "s3cret" not in str(err.value)
    with pytest.raises(Exception, match="postgresql://"):
        CultureAssistant(Components(settings=Settings(home=tmp_path, checkpoint_url="mysql://x")))
