"""A request stored once (`metadata.request_id` / `Idempotency-Key`): a retry gets the stored turn,
whether the first try was answered, timed out, or cut off mid-turn; and a draining server
refuses new turns while its health check fails."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import httpx
import pytest
from langchain_core.messages import HumanMessage

from manyshores.serve import ServeConfig
from manyshores.serve.config import IDEMPOTENCY_HEADER, THREAD_HEADER
from manyshores.serve.stored import message_id
from tests.graph_fixtures import tiny_assistant
from tests.serve_fixtures import app_of, running_server

openai = pytest.importorskip("openai", reason="the openai client (dev extra) is not installed")

KENYA = (
    "I'm from Kenya. How important is family in your life? "
    "Options: Very important, Rather important, Not very important, Not at all important"
)
DINNER = "What should I cook for a family dinner?"


@pytest.fixture()
def assistant(tiny_base, tmp_path):
    return tiny_assistant(tiny_base, tmp_path, max_new_tokens=8)


def _counting(assistant, monkeypatch) -> list:
    calls: list = []
    real = assistant.stream
    monkeypatch.setattr(assistant, "stream", lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def _users(url: str, thread_id: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/v1/threads/{thread_id}") as r:
        messages = json.loads(r.read())["messages"]
    roles = [m["role"] for m in messages]
    assert roles == ["user", "assistant"] * (len(roles) // 2), roles
    return [m["content"] for m in messages if m["role"] == "user"]


def _ask(url, text, thread_id=None, request_id=None, stream=False, header=False):
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
    metadata = {"thread_id": thread_id} if thread_id else {}
    extra_headers = {}
    if request_id and header:
        extra_headers[IDEMPOTENCY_HEADER] = request_id
    elif request_id:
        metadata["request_id"] = request_id
    response = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": text}],
        metadata=metadata,
        stream=stream,
        extra_headers=extra_headers,
    )
    if not stream:
        return response.choices[0].message.content, response.model_extra["manyshores"]
    chunks = list(response)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    return text, final.model_extra["manyshores"]


def test_a_retried_request_returns_the_stored_turn(assistant, monkeypatch):
    calls = _counting(assistant, monkeypatch)
    with running_server(assistant) as url:
        answer, extra = _ask(url, KENYA, "idem", request_id="req-1")
        assert "replayed" not in extra
        for stream, header in [(False, False), (True, False), (True, True)]:
            again, extra = _ask(url, KENYA, "idem", "req-1", stream=stream, header=header)
            assert again == answer and extra["replayed"] is True and extra["thread_id"] == "idem"
        assert len(calls) == 1 and _users(url, "idem") == [KENYA]
        # A later turn, then a late retry of the first: still the first turn's answer.
        second, _ = _ask(url, DINNER, "idem", request_id="req-2")
        late, extra = _ask(url, KENYA, "idem", request_id="req-1")
        assert late == answer != "" and extra["replayed"] and extra["cultures"][0]["id"] == "KEN"
        assert len(calls) == 2 and _users(url, "idem") == [KENYA, DINNER]
        # One request id reused for another message is a conflict, not a silent replay.
        conflict = httpx.post(
            url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "Something else"}]},
            headers={THREAD_HEADER: "idem", IDEMPOTENCY_HEADER: "req-1"},
        )
        assert conflict.status_code == 409 and "request id" in conflict.json()["error"]["message"]
        # Without a thread id, the retry lands in the thread its first try made.
        first = httpx.post(
            url + "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": KENYA}],
                "metadata": {"request_id": "n"},
            },
            timeout=120,
        )
        retry = httpx.post(
            url + "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": KENYA}],
                "metadata": {"request_id": "n"},
            },
            timeout=120,
        )
        made = first.headers[THREAD_HEADER]
        assert retry.headers[THREAD_HEADER] == made and retry.json()["manyshores"]["replayed"]
        assert _users(url, made) == [KENYA] and len(calls) == 3


def test_a_retry_after_a_timeout_gets_the_turn_that_finished_meanwhile(assistant, monkeypatch):
    release = threading.Event()
    real = assistant.stream
    calls: list = []

    def stream(*args, **kwargs):
        calls.append(args)
        release.wait(60)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(assistant, "stream", stream)
    with running_server(assistant, ServeConfig(request_timeout_s=1.0)) as url:
        with pytest.raises(openai.APIStatusError) as err:
            _ask(url, KENYA, "late", request_id="r-late")
        assert err.value.status_code == 504
        release.set()
        deadline = time.monotonic() + 60
        while httpx.get(url + "/healthz").json()["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        answer, extra = _ask(url, KENYA, "late", request_id="r-late")
        assert extra["replayed"] and answer == extra["answer"]
        assert len(calls) == 1 and _users(url, "late") == [KENYA]


def test_a_retry_completes_a_turn_cut_off_mid_way(assistant):
    # What a replica killed mid-turn leaves: the message checkpointed, the turn not run.
    thread_id = "cut"
    config = {"configurable": {"thread_id": thread_id}}
    message = HumanMessage(content=KENYA, id=message_id(thread_id, "r-cut"))
    assistant.graph.update_state(
        config,
        {
            "messages": [message],
            "culture_override": None,
            "user_id": None,
            "confirm_culture": False,
        },
        as_node="__start__",
    )
    assert assistant.graph.get_state(config).next
    with running_server(assistant) as url:
        answer, extra = _ask(url, KENYA, thread_id, request_id="r-cut", stream=True)
        assert extra["replayed"] and answer == extra["answer"] != ""
        assert extra["cultures"][0]["id"] == "KEN"
        assert _users(url, thread_id) == [KENYA]  # completed once, not stored twice


def test_a_draining_server_fails_its_health_check_and_refuses_new_turns(assistant):
    with running_server(assistant) as url:
        assert httpx.get(url + "/healthz").status_code == 200
        _ask(url, KENYA, "drain")
        app_of(url).state.draining.set()
        health = httpx.get(url + "/healthz")
        assert health.status_code == 503 and health.json()["status"] == "draining"
        refused = httpx.post(
            url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": DINNER}]}
        )
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        assert "shutting down" in refused.json()["error"]["message"]
        assert _users(url, "drain") == [KENYA]  # reads still answer
