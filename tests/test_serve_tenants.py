"""Tenants kept apart by `manyshores serve` (SQLite and PostgreSQL), the forms of the key and list
settings, and requests refused with short, clear errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import httpx
import pytest

from manyshores.config import Settings
from manyshores.content import check_message_text, has_visible_text
from manyshores.errors import InvalidInputError
from manyshores.serve import ServeConfig
from manyshores.serve.config import THREAD_HEADER
from manyshores.serve.tenants import parse_api_keys, plain_tenant
from tests.graph_fixtures import tiny_assistant
from tests.serve_fixtures import running_server

openai = pytest.importorskip("openai", reason="the openai client (dev extra) is not installed")

KENYA = (
    "I'm from Kenya. How important is family in your life? "
    "Options: Very important, Rather important, Not very important, Not at all important"
)
DINNER = "What should I cook for a family dinner?"


def _thread(url: str, thread_id: str, key: str) -> dict | None:
    request = urllib.request.Request(
        f"{url}/v1/threads/{thread_id}", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        assert exc.code == 404, exc.code
        return None


def _ask(url: str, key: str, text: str, thread_id: str, user: str | None = None):
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    extra = {"user": user} if user else {}
    return client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": text}],
        metadata={"thread_id": thread_id},
        **extra,
    )


def test_key_b_cannot_see_or_continue_key_a_conversation(tiny_base, tmp_path, checkpoint_backend):
    assistant = tiny_assistant(tiny_base, tmp_path, max_new_tokens=8, **checkpoint_backend)
    keys = ("acme:key-a", "globex:key-b")
    with running_server(assistant, ServeConfig(api_keys=keys)) as url:
        first = _ask(url, "key-a", KENYA, "shared", user="alice")
        assert first.model_extra["manyshores"]["thread_id"] == "shared"
        # Tenant B knows the thread id, yet the thread does not exist for it...
        assert _thread(url, "shared", "key-b") is None
        # ...and a turn with it starts B's own conversation: none of A's history, A's culture,
        # or A's user profile reaches it.
        other = _ask(url, "key-b", DINNER, "shared", user="alice")
        assert other.model_extra["manyshores"]["thread_id"] == "shared"
        cultures = [c["id"] for c in other.model_extra["manyshores"]["cultures"]]
        assert "KEN" not in cultures[:1]
        a_side = _thread(url, "shared", "key-a")
        b_side = _thread(url, "shared", "key-b")
        assert a_side is not None and b_side is not None
        assert [m["content"] for m in a_side["messages"] if m["role"] == "user"] == [KENYA]
        assert [m["content"] for m in b_side["messages"] if m["role"] == "user"] == [DINNER]
        profiles = assistant.components.get_profiles()
        assert "KEN" in (profiles.get("acme/alice") or {})
        assert "KEN" not in (profiles.get("globex/alice") or {})
        assert profiles.get("alice") is None  # nothing stored outside the tenants
        # A's own next turn continues A's conversation (culture from turn one).
        again = _ask(url, "key-a", DINNER, "shared", user="alice")
        assert again.model_extra["manyshores"]["cultures"][0]["id"] == "KEN"

    # A rotated key of the same tenant keeps its conversations.
    with running_server(assistant, ServeConfig(api_keys=("acme:key-a2", "globex:key-b"))) as url:
        rotated = _thread(url, "shared", "key-a2")
        assert rotated is not None and len(rotated["messages"]) == 4
        with pytest.raises(openai.AuthenticationError):
            _ask(url, "key-a", DINNER, "shared")

    # Bare keys (the old form) are one tenant each.
    with running_server(assistant, ServeConfig(api_keys=("k1", "k2"))) as url:
        _ask(url, "k1", KENYA, "bare")
        assert _thread(url, "bare", "k1") is not None
        assert _thread(url, "bare", "k2") is None


def test_api_keys_accept_three_unambiguous_forms():
    assert parse_api_keys("acme:k1, acme:k2,globex:k3") == ("acme:k1", "acme:k2", "globex:k3")
    assert parse_api_keys("k1,k2") == ("k1", "k2")
    # A JSON list is a list, not two keys `["a"` and `"b"]`.
    assert parse_api_keys('["a","b"]') == ("a", "b")
    assert parse_api_keys('["acme:k1", "k2"]') == ("acme:k1", "k2")
    assert parse_api_keys('{"acme": ["k1", "k:2"], "globex": "k3"}') == (
        "acme:k1",
        "acme:k:2",
        "globex:k3",
    )
    assert parse_api_keys("") == ()
    for bad, why in [
        ('["a","b"', "not JSON"),
        ('["a", 1]', "JSON list of strings"),
        ("a b:k1", "tenant name"),
        ("acme:k1,globex:k1", "two tenants"),
        ("acme:", "empty key"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_api_keys(bad)
    assert plain_tenant("k1") != plain_tenant("k2") and "k1" not in plain_tenant("k1")


def test_serve_config_reads_the_json_form_and_refuses_a_broken_one(monkeypatch):
    monkeypatch.setenv("MANYSHORES_API_KEYS", '["a","b"]')
    assert ServeConfig.from_env().api_keys == ("a", "b")
    monkeypatch.setenv("MANYSHORES_API_KEYS", '["a","b"')
    with pytest.raises(InvalidInputError, match="MANYSHORES_API_KEYS"):
        ServeConfig.from_env()


def test_list_settings_take_json_or_commas(monkeypatch, tmp_path):
    for value in ('["en","es"]', "en,es", " en , es "):
        monkeypatch.setenv("MANYSHORES_GENERAL_ANSWER_LANGUAGES", value)
        assert Settings(home=tmp_path).general_answer_languages == ["en", "es"]
    for value in ('["KEN","MEX"]', "KEN,MEX"):
        monkeypatch.setenv("MANYSHORES_DETECT_CULTURES", value)
        assert Settings(home=tmp_path).detect_cultures == "KEN,MEX"
    monkeypatch.setenv("MANYSHORES_DETECT_CULTURES", '["KEN",')
    with pytest.raises(ValueError, match="not a JSON list"):
        Settings(home=tmp_path)


INVISIBLE = [
    "\u200b",
    "\u200b\u200c\u200d\ufeff",
    "\u2060\u2061",
    " \u3164 ",
    "\u00a0\u2800",
    "\u0301",
]


def test_messages_of_invisible_characters_are_refused_as_empty(tiny_base, tmp_path, monkeypatch):
    for text in INVISIBLE:
        assert not has_visible_text(text), repr(text)
        with pytest.raises(InvalidInputError, match="empty"):
            check_message_text(text)
    assert has_visible_text("\u200bhi") and has_visible_text("é") and has_visible_text("家")
    assistant = tiny_assistant(tiny_base, tmp_path, max_new_tokens=8)
    calls = []
    monkeypatch.setattr(assistant, "stream", lambda *a, **k: calls.append(a) or iter(()))
    with running_server(assistant) as url:
        for text in INVISIBLE:
            r = httpx.post(
                url + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": text}]},
                headers={THREAD_HEADER: "blank"},
            )
            assert r.status_code == 400 and "empty" in r.json()["error"]["message"], text
        assert calls == []  # refused before it took a place in the queue
        assert httpx.get(url + "/v1/threads/blank").status_code == 404


def test_errors_quote_only_a_short_prefix(tiny_base, tmp_path):
    assistant = tiny_assistant(tiny_base, tmp_path, max_new_tokens=8)
    long_id = "x" * 20_000
    with running_server(assistant, ServeConfig(max_body_bytes=200_000)) as url:
        cases = [
            {"messages": [{"role": "user", "content": "hi"}], "metadata": {"thread_id": long_id}},
            {"messages": [{"role": "user", "content": "hi"}], "metadata": {"culture": long_id}},
            {"messages": [{"role": "user", "content": "hi"}], "metadata": {"request_id": long_id}},
            {"messages": [{"role": "user", "content": "hi"}], "user": long_id},
            {"messages": [{"role": long_id, "content": "hi"}]},
            {"messages": [{"role": "user", "content": [{"type": long_id}]}]},
        ]
        for body in cases:
            r = httpx.post(url + "/v1/chat/completions", json=body)
            message = r.json()["error"]["message"]
            assert r.status_code == 400, message[:200]
            assert len(message) < 300 and "20000 characters" in message, message
        r = httpx.get(f"{url}/v1/threads/{'y' * 5000}")
        assert r.status_code == 400 and len(r.json()["error"]["message"]) < 300
        # Within the limit, a thread id is quoted whole.
        missing = httpx.get(f"{url}/v1/threads/nope")
        assert missing.status_code == 404 and "'nope'" in missing.json()["error"]["message"]


def test_bench_takes_the_url_serve_prints_and_names_a_wrong_one(tiny_base, tmp_path):
    from typer.testing import CliRunner

    import manyshores.cli.serve  # noqa: F401  (registers the command)
    from manyshores.cli.app import app
    from manyshores.serve.bench import health
    from manyshores.testing.postgres import free_port

    assistant = tiny_assistant(tiny_base, tmp_path, max_new_tokens=8)
    with running_server(assistant) as url:
        assert health(url + "/v1")["status"] == "ok"
        out = tmp_path / "bench.json"
        result = CliRunner().invoke(
            app,
            ["bench", "serve", "--url", url + "/v1", "--conversations", "1", "--turns", "1"]
            + ["--no-sequential", "--out", str(out)],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text())["answered"] == 1
        with pytest.raises(InvalidInputError, match="answered 404 on /healthz"):
            health(url + "/v1/models")
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(InvalidInputError, match="cannot reach a manyshores server") as err:
        health(nowhere)
    assert "\n" not in str(err.value)
    for args, why in [
        (["--url", nowhere, "--kill-after", "5"], "needs --replicas"),
        (["--url", nowhere, "--replicas", "2"], "not both"),
        ([], "give --url"),
    ]:
        result = CliRunner().invoke(app, ["bench", "serve", *args])
        assert isinstance(result.exception, InvalidInputError), result.output
        assert why in str(result.exception)
