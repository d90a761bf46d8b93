"""Two `manyshores serve` replicas behind a real HAProxy, on one PostgreSQL and one Chroma server:
conversations spread over both, turns of one conversation serialised across them, tenants
kept apart, a replica drained by SIGTERM and one SIGKILLed mid-run losing nothing.

The replicas are processes (`tests.serve_replica`: the tiny model, everything else real); the
balancer checks `/healthz` every 0.5 s. The same deployment is what `manyshores bench serve
--replicas` starts with the default model.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from manyshores.serve.bench import _Run, check_threads, close_conversations, drive
from manyshores.serve.bench_replicas import Deployment, start_deployment
from manyshores.serve.config import REPLICA_HEADER
from manyshores.serve.locks import holders
from manyshores.testing.balancer import haproxy_binary
from manyshores.testing.chroma_server import ChromaServer
from tests.kb_checks import CORPUS
from tests.serve_replica import SLOW

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        haproxy_binary() is None, reason="haproxy is not installed (apt-get install haproxy)"
    ),
]
openai = pytest.importorskip("openai", reason="the openai client (dev extra) is not installed")
pytest.importorskip("langgraph.checkpoint.postgres", reason="the `postgres` extra is missing")

ROOT = Path(__file__).resolve().parents[1]
KEY_A, KEY_B = "key-a", "key-b"
SLOW_TURN_S = 3.0
KENYA = "I'm from Kenya. What do families usually eat for breakfast?"
CLEAN = {"lost_turns": 0, "mixed_turns": 0, "half_written_turns": 0, "duplicated_turns": 0}


@pytest.fixture(scope="module")
def deployment(postgres_cluster, tmp_path_factory) -> Deployment:
    from manyshores.config import Settings
    from manyshores.memory.knowledge_base import KnowledgeBase

    work = tmp_path_factory.mktemp("replicas")
    database = postgres_cluster.create_database("replicas")
    with ChromaServer(work / "chroma-data") as chroma:
        KnowledgeBase.open(Settings(home=work, chroma_url=chroma.url)).add(CORPUS)
        deployment = start_deployment(
            2,
            work,
            [sys.executable, "-m", "tests.serve_replica", str(work / "home")],
            env={
                "MANYSHORES_API_KEYS": f"acme:{KEY_A},globex:{KEY_B}",
                "TEST_SLOW_TURN_S": str(SLOW_TURN_S),
            },
            database_url=database,
            chroma_url=chroma.url,
            cwd=ROOT,
        )
        try:
            yield deployment
        finally:
            deployment.close()


def _client(url: str, key: str = KEY_A, retries: int = 0):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=retries)


def _ask(url: str, text: str, thread_id: str, key: str = KEY_A) -> tuple[str, dict]:
    raw = _client(url, key).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": text}], metadata={"thread_id": thread_id}
    )
    return raw.headers[REPLICA_HEADER], raw.parse().model_extra["manyshores"]


def _stored(url: str, thread_id: str, key: str = KEY_A) -> list[dict] | None:
    request = urllib.request.Request(
        f"{url}/v1/threads/{thread_id}", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return list(json.loads(response.read())["messages"])
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return None


def _complete_history(run: _Run, conversations: int, turns: int) -> None:
    """Every conversation's thread holds exactly its turns, in order, each answered once."""
    for c in range(conversations):
        messages = run.stored(c)["messages"]  # type: ignore[index]
        assert [m["role"] for m in messages] == ["user", "assistant"] * (turns + 1)
        sent = sorted((r for r in run.records if r.conversation == c), key=lambda r: r.turn)
        assert [m["content"] for m in messages[::2]] == [r.text for r in sent]
        assert all(m["content"] for m in messages[1::2])


def test_conversations_spread_over_replicas_one_turn_at_a_time(deployment):
    lb = deployment.balancer.url
    r1, r2 = (r.url for r in deployment.replicas)
    assert deployment.balancer.states() == {"r1": "UP", "r2": "UP"}

    run = _Run(lb, KEY_A, unstreamed_odd_turns=True)
    report = drive(run, 16, 4)
    assert report["answered"] == 64 and report["errors"] == {}, report
    assert set(report["answered_by"]) == {"r1", "r2"}
    # The balancer sent turns of one conversation to both replicas.
    spread = [len({r.replicas[-1] for r in run.records if r.conversation == c}) for c in range(16)]
    assert sum(n == 2 for n in spread) >= 4, spread
    close_conversations(run, 16, 4)
    assert check_threads(run, 16) == CLEAN
    _complete_history(run, 16, 4)

    # One conversation told to alternate: each replica continues what the other stored.
    assert _ask(r1, KENYA, "alt")[0] == "r1"
    name, extra = _ask(r2, "What should I cook for a family dinner?", "alt")
    assert name == "r2" and extra["cultures"][0]["id"] == "KEN"  # turn one's culture
    assert len(_stored(lb, "alt") or []) == 4
    # The knowledge base is the Chroma server's: a passage seeded there is cited.
    sources = _ask(r2, "In Japan, how do people greet each other?", "kb")[1]["sources"]
    assert any(s["kind"] == "memory" and "bow" in s["snippet"] for s in sources), sources

    # Two turns of one conversation at once, one on each replica: the database's lock makes
    # the second wait for the first.
    answers: dict[str, dict] = {}

    def send(url: str, text: str) -> None:
        answers[url] = _ask(url, text, "pair")[1]

    start = time.monotonic()
    senders = [
        threading.Thread(target=send, args=(r1, f"{SLOW} I'm from Kenya. What do we eat?")),
        threading.Thread(target=send, args=(r2, f"{SLOW} And what do we drink?")),
    ]
    for s in senders:
        s.start()
        time.sleep(0.3)
    seen: list[dict] = []
    deadline = time.monotonic() + SLOW_TURN_S
    while time.monotonic() < deadline and len(seen) < 2:
        seen = holders(deployment.database_url, "acme/pair")
        time.sleep(0.05)
    assert sorted(h["granted"] for h in seen) == [False, True], seen
    for s in senders:
        s.join(120)
    assert set(answers) == {r1, r2} and time.monotonic() - start >= 2 * SLOW_TURN_S
    stored = _stored(lb, "pair") or []
    assert [m["role"] for m in stored] == ["user", "assistant"] * 2
    assert {m["content"] for m in stored[::2]} == {
        f"{SLOW} I'm from Kenya. What do we eat?",
        f"{SLOW} And what do we drink?",
    }

    # Tenants across replicas: B cannot read A's thread through either replica, and its own
    # turn on that id leaves A's conversation as it was.
    for url in (r1, r2, lb):
        assert _stored(url, "alt", KEY_B) is None
    _ask(r2, "Hello there, what is a good gift?", "alt", KEY_B)
    assert len(_stored(r1, "alt") or []) == 4 and len(_stored(r1, "alt", KEY_B) or []) == 2


def test_sigterm_drains_a_replica_while_the_balancer_routes_around_it(deployment):
    lb = deployment.balancer
    victim = deployment.replicas[1]
    result: dict[str, object] = {}

    def slow_turn() -> None:
        result["answer"] = _ask(victim.url, f"{SLOW} I'm from Kenya. A drain?", "drain")

    sender = threading.Thread(target=slow_turn)
    sender.start()
    deadline = time.monotonic() + 30
    while (victim.health() or (0, {}))[1].get("pending", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim.terminate()
    time.sleep(0.2)
    status, body = victim.health() or (0, {})
    assert status == 503 and body["status"] == "draining"  # at once
    lb.wait_state("r2", "DOWN", timeout_s=10)
    assert sender.is_alive()  # the turn under way is still running...
    # ...while new requests through the balancer go to the other replica.
    for i in range(3):
        assert _ask(lb.url, "What do people do on a holiday?", f"during-{i}")[0] == "r1"
    sender.join(60)
    assert result["answer"][0] == "r2" and result["answer"][1]["answer"]  # type: ignore[index]
    assert victim.wait(30) == 0  # drained, then exited cleanly
    assert len(_stored(lb.url, "drain") or []) == 2
    victim.start()
    lb.wait_state("r2", "UP")


def test_a_replica_killed_mid_run_loses_nothing(deployment):
    lb = deployment.balancer
    victim = deployment.replicas[1]
    killed: list[int] = []
    guard = threading.Lock()

    def kill_at(answered: int) -> None:
        with guard:
            if answered >= 20 and not killed:
                killed.append(answered)
                victim.kill()

    run = _Run(lb.url, KEY_A, retries=3, unstreamed_odd_turns=True, on_answer=kill_at)
    report = drive(run, 16, 4)
    assert killed and not victim.running
    assert lb.states()["r2"] == "DOWN"
    # Every request got its answer (the ones the kill cut were sent again, same request id)...
    assert report["answered"] == 64, report
    failures = [f for r in run.records for f in r.failures]
    assert failures, "the kill cut no request"
    # ...and each failure was one the client can act on: the balancer's 502 saying to resend
    # with the request id, its 503 saying to try again, a stream cut off, or a connection
    # refused before anything was sent.
    for kind, message in failures:
        assert kind in {"502", "503", "stream_cut", "connection_failed"}, (kind, message)
        if kind == "502":
            assert "send it again with the same request id" in message
        if kind == "503":
            assert "try again" in message
    # The conversations continue on the surviving replica.
    close_conversations(run, 16, 4)
    closing = [r for r in run.records if r.turn == 4]
    assert all(r.answered and r.replicas[-1] == "r1" for r in closing)
    assert check_threads(run, 16) == CLEAN
    _complete_history(run, 16, 4)
