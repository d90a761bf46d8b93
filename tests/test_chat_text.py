"""`MANYSHORES_CHAT_MODEL`: LangChain's real `ChatOpenAI` (through `init_chat_model`) against a
local server speaking the OpenAI chat-completions protocol, well or badly. The general answer
and persona experts come from it through the same reply hygiene; when it refuses, hangs, dies
mid-stream or answers 500, the answer runs on the base model's runtime and says so, within the
timeout; a spec that cannot work is a clear error before any turn."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from manyshores.components import Components
from manyshores.components.expert_backend import GENERAL_SYSTEM_PROMPT, CommitteeBackend
from manyshores.config import Settings
from manyshores.errors import InvalidInputError
from manyshores.experts.committee import Committee
from manyshores.experts.vllm.engine import VllmEngine
from manyshores.runtime.chat_text import ChatModelText, build_chat_model
from manyshores.runtime.resume import CUT_NOTE
from manyshores.runtime.selection import text_runtime
from manyshores.runtime.text import answer_text
from manyshores.runtime.vllm_client import VllmClient
from manyshores.state import ExpertChoice
from manyshores.testing.postgres import free_port
from manyshores.testing.vllm_server import FakeVllmServer
from tests.fakes import ScriptedText
from tests.graph_fixtures import tiny_assistant
from tests.test_vllm_engine import CHAT, PERSONA

pytest.importorskip("langchain.chat_models")
pytest.importorskip("langchain_openai")

SPEC = "openai:served-model"
GENERAL_QUESTION = "Why does it rain?"


def _runtime(url: str, fallback=None, timeout_s: float = 5.0) -> ChatModelText:
    settings = Settings(
        chat_model=SPEC,
        chat_model_base_url=f"{url}/v1",
        chat_model_timeout_s=timeout_s,
        max_new_tokens=24,
    )
    return ChatModelText.from_settings(settings, (lambda: fallback) if fallback else None)


def _chat_requests(server: FakeVllmServer) -> list[dict]:
    return [r for r in server.requests if r["_path"] == "/v1/chat/completions"]


# ---- a graph turn ----------------------------------------------------------------------------


def test_a_general_answer_is_the_chat_models_text_through_the_hygiene(tiny_base, tmp_path):
    # The server's answer repeats its first sentence: the reply keeps it once (no loops).
    text = "Rain falls when cloud droplets grow heavy. Rain falls when cloud droplets grow heavy."
    with FakeVllmServer(text=text) as server:
        assistant = tiny_assistant(
            tiny_base, tmp_path, chat_model=SPEC, chat_model_base_url=f"{server.url}/v1"
        )
        streamed, steps = [], []
        for event in assistant.stream(GENERAL_QUESTION, thread_id="general"):
            if event.node == "token":
                streamed.append(event.update["text"])
            elif event.is_step:
                steps.append(event.node)
        result = assistant.result("general", steps)
        [request] = _chat_requests(server)
    answer = result.answer
    assert answer.count("Rain falls when cloud droplets grow heavy.") == 1
    assert answer.startswith("".join(streamed).rstrip()) and streamed
    data = result.to_json()
    assert data["text_runtime"] == f"chat_model:{SPEC}"
    assert not [n for n in data["notes"] if "chat model" in n or "base model" in n]
    # Greedy, capped at the settings' length, the general answer's own instructions.
    assert request["temperature"] == 0.0 and request["stream"] is True
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 96
    assert request["messages"][0] == {"role": "system", "content": GENERAL_SYSTEM_PROMPT}
    assert request["messages"][-1]["content"].endswith(GENERAL_QUESTION)


def test_a_chat_model_answering_in_another_language_is_not_shown(tiny_base, tmp_path):
    with FakeVllmServer(text="La lluvia cae cuando las gotas de las nubes pesan demasiado.") as s:
        assistant = tiny_assistant(
            tiny_base, tmp_path, chat_model=SPEC, chat_model_base_url=f"{s.url}/v1"
        )
        result = assistant.invoke(GENERAL_QUESTION, "lang")
    assert "lluvia" not in result.answer
    assert result.values["expert_answers"][0]["runtime"] == f"chat_model:{SPEC}"


def test_a_hanging_chat_model_gives_a_degraded_turn_within_the_timeout(tiny_base, tmp_path):
    with FakeVllmServer(mode="hang", hang_s=4.0) as server:
        assistant = tiny_assistant(
            tiny_base,
            tmp_path,
            chat_model=SPEC,
            chat_model_base_url=f"{server.url}/v1",
            chat_model_timeout_s=0.5,
        )
        start = time.monotonic()
        result = assistant.invoke(GENERAL_QUESTION, "hang")
        took = time.monotonic() - start
    [note] = [n for n in result.values["notes"] if "chat model" in n]
    assert "sent nothing for 0.5 s" in note and "ran on the base model" in note
    # The base model's runtime answered (the tiny model's text, if any, goes through the same
    # checks); the turn did not wait for the server.
    assert result.values["expert_answers"][0]["runtime"] == "transformers"
    assert result.answer and took < 4.0


# ---- persona experts -------------------------------------------------------------------------


def test_persona_experts_are_written_by_the_chat_model(tiny_base):
    other: ExpertChoice = {**PERSONA, "id": "persona:JPN", "culture": "JPN"}
    with FakeVllmServer() as server:
        committee = Committee(tiny_base, text=_runtime(server.url))
        pieces: list[str] = []
        [lone] = committee.generate(CHAT, [PERSONA], max_new_tokens=24, on_token=pieces.append)
        both = committee.generate(CHAT, [PERSONA, other], max_new_tokens=24)
        requests = _chat_requests(server)
    assert lone["text"] == server.text == "".join(pieces)
    assert lone["runtime"] == f"chat_model:{SPEC}" and "note" not in lone
    assert lone["output_tokens"] == len(server.text.split()) and lone["input_tokens"] > 0
    assert [a["text"] for a in both] == [server.text, server.text]
    # Each persona's own system prompt, naming its culture, then the question.
    systems = sorted(r["messages"][0]["content"] for r in requests[1:])
    assert "Japan" in systems[0] + systems[1] and "Kenya" in systems[0] + systems[1]
    assert all(r["messages"][-1] == CHAT[0] for r in requests)


def test_with_the_vllm_engine_personas_go_to_the_chat_model(tiny_base, tmp_path):
    with FakeVllmServer() as server:
        local = Committee(tiny_base, text=_runtime(server.url))
        engine = VllmEngine(tiny_base, None, VllmClient(server.url), local, tmp_path / "a")
        [answer] = engine.generate(CHAT, [PERSONA], max_new_tokens=24)
        paths = [r["_path"] for r in server.requests]
    assert answer["text"] == server.text and answer["runtime"] == f"chat_model:{SPEC}"
    assert paths == ["/v1/chat/completions"]  # not the engine's completions


# ---- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("refused", "Connection error"),
        ("hang", "sent nothing for 0.5 s"),
        ("500", "Error code: 500"),
        ("cut", "the stream ended before the answer did"),
    ],
)
def test_a_failing_chat_model_falls_back_with_a_note(mode, why):
    fallback = ScriptedText("Bring flowers for the host.", name="transformers")
    with FakeVllmServer(mode="ok" if mode == "refused" else mode, hang_s=3.0) as server:
        url = f"http://127.0.0.1:{free_port()}" if mode == "refused" else server.url
        runtime = _runtime(url, fallback, timeout_s=0.5)
        pieces: list[str] = []
        start = time.monotonic()
        done = answer_text(runtime, CHAT, 24, pieces.append)
        assert time.monotonic() - start < 2.5  # one timeout at most, never a hang
        assert why in done.note and "ran on the base model (transformers)" in done.note
        assert done.runtime == "transformers" and "".join(pieces) == done.text
        if mode == "cut":  # two words were sent; the fallback could not continue them
            assert done.text == "Bring a" and CUT_NOTE in done.note
        else:
            assert done.text == fallback.text
        # Left alone for a while: the next answer does not wait for the server again.
        seen = len(server.requests)
        start = time.monotonic()
        again = answer_text(runtime, CHAT, 24)
        assert time.monotonic() - start < 0.5 and len(server.requests) == seen
        assert "failed recently" in again.note and again.text == fallback.text


def test_a_cut_stream_continued_by_the_fallback_reaches_the_caller_once():
    text = "Bring a small gift and arrive on time."
    with FakeVllmServer(mode="cut", cut_after=3, text=text) as server:
        pieces: list[str] = []
        done = answer_text(_runtime(server.url, ScriptedText(text)), CHAT, 24, pieces.append)
    assert pieces[:3] == ["Bring", " a", " small"] and "".join(pieces) == text == done.text
    assert CUT_NOTE not in (done.note or "")


def test_a_timeout_from_the_turn_budget_ends_the_answer_with_what_it_has():
    from manyshores.budget import budget_scope

    with FakeVllmServer(piece_delay_s=0.4) as server:
        runtime = _runtime(server.url, ScriptedText("unused"), timeout_s=5.0)
        start = time.monotonic()
        with budget_scope(None, 1.0) as budget:
            done = answer_text(runtime, CHAT, 24)
        assert time.monotonic() - start < 2.0
    assert budget is not None and budget.cut
    assert done.runtime == f"chat_model:{SPEC}" and done.note is None
    assert server.text.startswith(done.text) and 0 < len(done.text) < len(server.text)


# ---- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["gpt-4o-mini", "openai:", ":model"])
def test_a_spec_that_is_not_provider_model_is_refused_by_the_settings(spec):
    with pytest.raises(ValidationError, match="provider:model"):
        Settings(chat_model=spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchprovider:x", "not usable: Unable to infer model provider"),
        ("anthropic:claude-x", "pip install langchain-anthropic"),
    ],
)
def test_a_chat_model_that_cannot_be_built_is_a_clear_error_before_any_turn(
    tiny_base, tmp_path, spec, message
):
    if spec.startswith("anthropic"):
        try:
            import langchain_anthropic  # noqa: F401

            pytest.skip("langchain-anthropic is installed here")
        except ImportError:
            pass
    settings = Settings(home=tmp_path, chat_model=spec)
    with pytest.raises(InvalidInputError, match=message):
        text_runtime(settings, tiny_base)
    with pytest.raises(InvalidInputError, match="chat_model="):
        CommitteeBackend(Components(settings=settings, base=tiny_base))


def test_the_teacher_is_built_by_the_same_builder():
    from manyshores.synthesis.teacher import ChatModelTeacher, teacher_from_settings

    with FakeVllmServer(text='{"question": "q"}') as server:
        model = build_chat_model(
            SPEC, temperature=0.7, base_url=f"{server.url}/v1", setting="teacher_model"
        )
        teacher = ChatModelTeacher(model, name=SPEC)
        assert teacher.complete([{"role": "user", "content": "write"}]) == '{"question": "q"}'
        [request] = _chat_requests(server)
        assert request["temperature"] == 0.7 and not request.get("stream")
    with pytest.raises(InvalidInputError, match="teacher_model='nosuchprovider:x'"):
        teacher_from_settings(Settings(teacher_model="nosuchprovider:x"))


def test_a_bad_chat_model_variable_is_one_error_line(monkeypatch, capsys):
    import sys

    from manyshores.cli.main import main
    from manyshores.config import get_settings

    monkeypatch.setenv("MANYSHORES_CHAT_MODEL", "gpt-4o")
    monkeypatch.setattr(sys, "argv", ["manyshores", "ask", GENERAL_QUESTION])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        monkeypatch.delenv("MANYSHORES_CHAT_MODEL")
        get_settings.cache_clear()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: MANYSHORES_CHAT_MODEL: ") and "provider:model" in err
    assert "Traceback" not in err
