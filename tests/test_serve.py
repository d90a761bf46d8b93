"""`manyshores serve` through the real `openai` client and LangChain's `ChatOpenAI`.

The app runs on a free port over real components (tiny random model, real detector, Chroma,
SQLite checkpoints), so memory, profiles and traces are the graph's own.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import httpx
import pytest

from manyshores.serve import ServeConfig
from manyshores.serve.config import THREAD_HEADER
from tests.graph_fixtures import tiny_assistant
from tests.serve_fixtures import running_server

openai = pytest.importorskip("openai", reason="the openai client (dev extra) is not installed")

# A survey question: even the tiny random model answers it (by scoring the options).
KENYA = (
    "I'm from Kenya. How important is family in your life? "
    "Options: Very important, Rather important, Not very important, Not at all important"
)
DINNER = "What should I cook for a family dinner?"


@pytest.fixture(scope="module")
def assistant(tiny_base, tmp_path_factory):
    # One assistant for the module (threads are named per test): components load once.
    return tiny_assistant(tiny_base, tmp_path_factory.mktemp("serve"), max_new_tokens=8)


@pytest.fixture()
def server(assistant):
    with running_server(assistant) as url:
        yield url


def _client(url: str, key: str = "none"):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def _thread(url: str, thread_id: str, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(f"{url}/v1/threads/{thread_id}", headers=headers)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def test_openai_client_holds_a_multi_turn_conversation(server, assistant):
    client = _client(server)
    first = client.chat.completions.create(
        model="manyshores",
        messages=[{"role": "user", "content": KENYA}],
        metadata={"thread_id": "oa"},
        user="alice",
    )
    extra = first.model_extra["manyshores"]
    assert first.object == "chat.completion" and first.choices[0].finish_reason == "stop"
    assert first.choices[0].message.content == extra["answer"]
    assert extra["thread_id"] == "oa" and extra["cultures"][0]["id"] == "KEN"
    assert set(extra) >= {"answer", "cultures", "task", "experts", "sources", "steps"}
    assert first.usage.completion_tokens > 0 and first.usage.prompt_tokens > 0

    # The client sends its whole history, as chat clients do; the thread is the memory.
    second = client.chat.completions.create(
        model="manyshores",
        messages=[
            {"role": "user", "content": KENYA},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": DINNER},
        ],
        metadata={"thread_id": "oa"},
        user="alice",
    )
    assert second.model_extra["manyshores"]["cultures"][0]["id"] == "KEN"  # turn one's culture
    stored = _thread(server, "oa")["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in stored if m["role"] == "user"] == [KENYA, DINNER]
    # The profile and the trace are the graph's own.
    assert "KEN" in assistant.components.get_profiles().get("alice")
    assert {s.turn for s in assistant.trace("oa")} == {1, 2}


def test_openai_client_streams_in_openai_chunks(server):
    client = _client(server)
    chunks = list(
        client.chat.completions.create(
            model="manyshores",
            messages=[{"role": "user", "content": KENYA}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={THREAD_HEADER: "st"},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    closing = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(closing) == 1
    extra = closing[0].model_extra["manyshores"]
    assert text == extra["answer"] and text
    assert extra["thread_id"] == "st"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0

    second = list(
        client.chat.completions.create(
            model="manyshores",
            messages=[{"role": "user", "content": DINNER}],
            stream=True,
            extra_headers={THREAD_HEADER: "st"},
        )
    )
    final = [c for c in second if c.choices and c.choices[0].finish_reason][0]
    assert final.model_extra["manyshores"]["cultures"][0]["id"] == "KEN"


def test_new_thread_is_made_and_returned_when_none_is_given(server):
    response = httpx.post(
        server + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": KENYA}]},
        timeout=120,
    )
    assert response.status_code == 200
    thread_id = response.headers[THREAD_HEADER]
    assert len(thread_id) == 32 and response.json()["manyshores"]["thread_id"] == thread_id
    assert len(_thread(server, thread_id)["messages"]) == 2


def test_chat_openai_multi_turn_invoke_and_stream(server):
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=server + "/v1",
        api_key="none",
        model="manyshores",
        default_headers={THREAD_HEADER: "lc"},
        max_retries=0,
    )
    history = [HumanMessage(KENYA)]
    first = llm.invoke(history)
    assert isinstance(first, AIMessage) and first.content
    history += [first, HumanMessage(DINNER)]
    streamed = "".join(str(chunk.content) for chunk in llm.stream(history))
    stored = _thread(server, "lc")["messages"]
    assert [m["content"] for m in stored] == [KENYA, first.content, DINNER, streamed]


def test_without_a_valid_key_401_and_no_model_work(assistant, monkeypatch):
    calls = []
    real_stream = assistant.stream
    monkeypatch.setattr(
        assistant, "stream", lambda *a, **k: calls.append(a) or real_stream(*a, **k)
    )
    with running_server(assistant, ServeConfig(api_keys=("k1", "k2"))) as url:
        for key in ("wrong", "none"):
            with pytest.raises(openai.AuthenticationError):
                _client(url, key).chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": KENYA}],
                    metadata={"thread_id": "auth"},
                )
        no_header = httpx.post(
            url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": KENYA}]},
        )
        assert no_header.status_code == 401 and no_header.json()["error"]["message"]
        assert httpx.get(url + "/v1/models").status_code == 401
        assert calls == []
        with pytest.raises(urllib.error.HTTPError, match="404"):
            _thread(url, "auth", key="k2")
        ok = _client(url, "k2").chat.completions.create(
            model="m", messages=[{"role": "user", "content": KENYA}], metadata={"thread_id": "auth"}
        )
        assert ok.choices[0].message.content and len(calls) == 1
        assert _client(url, "k1").models.list().data[0].id == "manyshores"


def test_bad_requests_get_clear_errors(assistant):
    with running_server(assistant, ServeConfig(max_body_bytes=2000)) as url:
        big = httpx.post(
            url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "x" * 5000}]},
        )
        assert big.status_code == 413 and "2000" in big.json()["error"]["message"]
        not_user = httpx.post(
            url + "/v1/chat/completions",
            json={"messages": [{"role": "assistant", "content": "hi"}]},
        )
        assert not_user.status_code == 400 and "role 'user'" in not_user.json()["error"]["message"]
        for body in (b"{not json", b'{"messages": []}'):
            bad = httpx.post(url + "/v1/chat/completions", content=body)
            assert bad.status_code == 400, body
        empty = httpx.post(
            url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": " "}]}
        )
        assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"]
        bad_thread = httpx.post(
            url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "metadata": {"thread_id": "\n"}},
        )
        assert bad_thread.status_code == 400
        assert httpx.get(url + "/healthz").json()["status"] == "ok"


def _blocking(assistant, monkeypatch) -> threading.Event:
    """Make every turn wait for the returned event before it starts."""
    release = threading.Event()
    real_stream = assistant.stream

    def stream(*args, **kwargs):
        release.wait(60)
        yield from real_stream(*args, **kwargs)

    monkeypatch.setattr(assistant, "stream", stream)
    return release


def test_full_queue_is_429_with_retry_after(assistant, monkeypatch):
    release = _blocking(assistant, monkeypatch)
    config = ServeConfig(max_queue=2)
    with running_server(assistant, config) as url:
        results: list[int] = []

        def send(thread_id: str) -> None:
            r = httpx.post(
                url + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": KENYA}]},
                headers={THREAD_HEADER: thread_id},
                timeout=120,
            )
            results.append(r.status_code)

        senders = [threading.Thread(target=send, args=(f"q{i}",)) for i in range(2)]
        for s in senders:
            s.start()
        deadline = time.monotonic() + 10
        while httpx.get(url + "/healthz").json()["pending"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = httpx.post(
            url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": KENYA}]},
            headers={THREAD_HEADER: "q-over"},
        )
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        release.set()
        for s in senders:
            s.join(120)
        assert results == [200, 200]
        with pytest.raises(urllib.error.HTTPError, match="404"):
            _thread(url, "q-over")  # refused before any work: no trace of it


def test_timeout_is_504_and_a_turn_never_started_is_absent(assistant, monkeypatch):
    release = _blocking(assistant, monkeypatch)
    with running_server(assistant, ServeConfig(request_timeout_s=1.0)) as url:
        results: dict[str, int] = {}

        def send(thread_id: str) -> None:
            r = httpx.post(
                url + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": KENYA}]},
                headers={THREAD_HEADER: thread_id},
                timeout=60,
            )
            results[thread_id] = r.status_code

        first = threading.Thread(target=send, args=("t-running",))
        first.start()
        time.sleep(0.2)
        second = threading.Thread(target=send, args=("t-waiting",))
        second.start()
        first.join(30)
        second.join(30)
        assert results == {"t-running": 504, "t-waiting": 504}
        release.set()
        deadline = time.monotonic() + 60
        while httpx.get(url + "/healthz").json()["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        # The turn under way finished and is stored; the one still waiting never ran.
        assert len(_thread(url, "t-running")["messages"]) == 2
        with pytest.raises(urllib.error.HTTPError, match="404"):
            _thread(url, "t-waiting")


def test_client_disconnecting_mid_stream_leaves_the_server_healthy(server):
    with httpx.stream(
        "POST",
        server + "/v1/chat/completions",
        json={"stream": True, "messages": [{"role": "user", "content": KENYA}]},
        headers={THREAD_HEADER: "gone"},
        timeout=60,
    ) as response:
        first = next(response.iter_lines())
        assert first.startswith("data: ")
    # The turn still completes and is stored; the server answers the next request.
    deadline = time.monotonic() + 60
    while httpx.get(server + "/healthz").json()["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_thread(server, "gone")["messages"]) == 2
    after = _client(server).chat.completions.create(
        model="m", messages=[{"role": "user", "content": DINNER}], metadata={"thread_id": "gone"}
    )
    assert after.model_extra["manyshores"]["cultures"][0]["id"] == "KEN"


def test_concurrent_conversations_keep_their_own_turns(server):
    from manyshores.serve.bench import run_serve_bench

    report = run_serve_bench(server, conversations=4, turns=3, sequential=True)
    assert report["answered"] == 12 and report["errors"] == {}
    assert report["lost_turns"] == 0 and report["mixed_turns"] == 0
    assert report["half_written_turns"] == 0 and report["backend"] == "sqlite"
    assert report["latency_s"]["p50"] > 0 and report["ttft_s"]["p50"] is not None
    assert report["one_at_a_time"]["answered"] == 3
    assert report["throughput_ratio_vs_one_at_a_time"] > 0


def test_ask_cli_uses_a_running_server(server):
    from typer.testing import CliRunner

    import manyshores.cli.graph  # noqa: F401  (registers the command)
    from manyshores.cli.app import app

    runner = CliRunner()
    first = runner.invoke(app, ["ask", KENYA, "--server", server, "--thread", "cli", "--json"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert data["thread_id"] == "cli" and data["cultures"][0]["id"] == "KEN"
    second = runner.invoke(
        app, ["ask", DINNER, "--thread", "cli", "--json"], env={"MANYSHORES_SERVER": server}
    )
    assert json.loads(second.output)["cultures"][0]["id"] == "KEN"
    assert len(_thread(server, "cli")["messages"]) == 4


@pytest.mark.slow
def test_default_model_streams_its_answer_token_by_token(default_base, tmp_path):
    assistant = tiny_assistant(default_base, tmp_path, max_new_tokens=24)
    with running_server(assistant) as url:
        client = _client(url)
        chunks = list(
            client.chat.completions.create(
                model="manyshores",
                messages=[{"role": "user", "content": "What is rain?"}],
                stream=True,
                metadata={"thread_id": "real"},
            )
        )
        pieces = [
            c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
        ]
        final = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"][0]
        extra = final.model_extra["manyshores"]
        assert "".join(pieces) == extra["answer"] and extra["answer"]
        # Streamed as the model writes it, never taken back: many deltas, not one at the end.
        assert len(pieces) >= 3
        first = client.chat.completions.create(
            model="manyshores",
            messages=[{"role": "user", "content": "I am from Canada. What is snow?"}],
            metadata={"thread_id": "real-ca"},
        )
        assert first.choices[0].message.content == first.model_extra["manyshores"]["answer"]
        second = client.chat.completions.create(
            model="manyshores",
            messages=[{"role": "user", "content": "And what should I bring as a gift?"}],
            metadata={"thread_id": "real-ca"},
        )
        assert second.model_extra["manyshores"]["cultures"][0]["id"] == "CAN"
        assert second.choices[0].message.content == second.model_extra["manyshores"]["answer"]
