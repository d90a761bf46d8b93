"""A conversation's turns serialised through PostgreSQL: advisory locks per thread id, shared by
every server on the database, released when the turn ends or its process dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from manyshores.serve import ServeConfig
from manyshores.serve.config import REPLICA_HEADER
from manyshores.serve.locks import LockWaitTimeout, PostgresLocks, advisory_key, holders
from tests.graph_fixtures import tiny_assistant
from tests.serve_fixtures import running_server

pytest.importorskip("langgraph.checkpoint.postgres", reason="the `postgres` extra is missing")
openai = pytest.importorskip("openai", reason="the openai client (dev extra) is not installed")

HOLDER = r"""
import sys, time
from manyshores.serve.locks import PostgresLocks
with PostgresLocks(sys.argv[1]).hold(sys.argv[2], time.monotonic() + 30):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture()
def database(postgres_cluster) -> str:
    import uuid

    return postgres_cluster.create_database(f"l{uuid.uuid4().hex[:10]}")


def _busy(locks: PostgresLocks, thread_id: str, wait_s: float, shared: bool = False) -> bool:
    """True when the thread's lock stayed taken for `wait_s`."""
    try:
        with locks.hold(thread_id, time.monotonic() + wait_s, shared=shared):
            return False
    except LockWaitTimeout:
        return True


def test_a_busy_thread_waits_until_its_deadline_and_readers_share(database):
    locks = PostgresLocks(database)
    assert advisory_key("a") != advisory_key("b") and advisory_key("a") == advisory_key("a")
    with locks.hold("t1", time.monotonic() + 5):
        start = time.monotonic()
        assert _busy(locks, "t1", 0.5)
        assert 0.4 < time.monotonic() - start < 3
        assert _busy(locks, "t1", 0.3, shared=True)  # a read waits for the turn too
        assert not _busy(locks, "t2", 1)  # another thread is free
        assert [h["granted"] for h in holders(database, "t1")] == [True]
    with locks.hold("t1", time.monotonic() + 1, shared=True):
        assert not _busy(locks, "t1", 1, shared=True)  # readers share
        assert _busy(locks, "t1", 0.3)  # and keep a turn waiting
    assert holders(database, "t1") == []  # closing the session released it


def test_a_killed_holder_releases_the_thread_at_once(database):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database, "t-kill"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        locks = PostgresLocks(database)
        assert _busy(locks, "t-kill", 0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        start = time.monotonic()
        assert not _busy(locks, "t-kill", 10)
        assert time.monotonic() - start < 3
    finally:
        proc.kill()
        proc.wait()


def test_two_servers_on_one_database_run_one_conversation_one_turn_at_a_time(
    tiny_base, tmp_path, database, monkeypatch
):
    """Two servers in one process stand for two replicas: they share only the database."""
    delay = 1.5
    assistants = []
    for i in range(2):
        assistant = tiny_assistant(
            tiny_base, tmp_path / f"r{i}", max_new_tokens=8, checkpoint_url=database
        )
        real = assistant.stream

        def slow(*a, _real=real, **k):
            time.sleep(delay)
            yield from _real(*a, **k)

        monkeypatch.setattr(assistant, "stream", slow)
        assistants.append(assistant)
    with (
        running_server(assistants[0], ServeConfig(replica="one")) as first,
        running_server(assistants[1], ServeConfig(replica="two")) as second,
    ):
        results: dict[str, str] = {}
        texts = {first: "I'm from Kenya. What do we eat?", second: "And what do we drink?"}

        def send(url: str) -> None:
            client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
            raw = client.chat.completions.with_raw_response.create(
                model="m",
                messages=[{"role": "user", "content": texts[url]}],
                metadata={"thread_id": "both"},
            )
            results[raw.headers[REPLICA_HEADER]] = raw.parse().choices[0].message.content

        start = time.monotonic()
        senders = [threading.Thread(target=send, args=(u,)) for u in (first, second)]
        for s in senders:
            s.start()
            time.sleep(0.3)
        # While one turn runs, the other server's turn waits on the database's lock.
        deadline = time.monotonic() + 10
        seen: list[dict] = []
        while time.monotonic() < deadline and len(seen) < 2:
            seen = holders(database, "both")
            time.sleep(0.05)
        assert sorted(h["granted"] for h in seen) == [False, True], seen
        for s in senders:
            s.join(120)
        assert set(results) == {"one", "two"}
        assert time.monotonic() - start >= 2 * delay  # one after the other
        with urllib.request.urlopen(f"{second}/v1/threads/both") as r:
            stored = json.loads(r.read())["messages"]
        assert [m["role"] for m in stored] == ["user", "assistant"] * 2
        assert sorted(m["content"] for m in stored if m["role"] == "user") == sorted(texts.values())
        assert not any(m["content"] == "" for m in stored)


def test_replicas_starting_together_create_the_tables_once(postgres_cluster):
    """Without the setup lock, concurrent `setup()` calls on a new database fail (duplicate
    migration rows, deadlocks between their index builds)."""
    from manyshores.memory.postgres import open_postgres_checkpointer, open_postgres_store

    for attempt in range(2):
        url = postgres_cluster.create_database(f"setup{attempt}{os.getpid()}")
        errors: list[str] = []

        def start(url: str = url, errors: list[str] = errors) -> None:
            try:
                for opened in (open_postgres_checkpointer(url), open_postgres_store(url)):
                    opened.conn.close()  # the pool
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

        starting = [threading.Thread(target=start) for _ in range(4)]
        for t in starting:
            t.start()
        for t in starting:
            t.join(120)
        assert errors == []
