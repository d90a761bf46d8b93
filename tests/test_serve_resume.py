"""A vLLM stream cut mid-answer, the turn continued in-process: the client never gets a word twice.

Reproduced through `manyshores serve` and the real `openai` client against a vLLM stand-in that
closes its stream after three words. With the continuation taken out (the in-process answer
streamed to the client unchanged, as before `runtime.resume`), the client receives the first
words twice; with it, every word once and the deltas are the stored answer. Both streamed paths
that can fall back mid-stream are covered: the general answer and a task adapter's answer.
"""

from __future__ import annotations

import pytest

from manyshores.runtime.resume import Resume, SentText
from manyshores.testing.vllm_server import FakeVllmServer
from tests.fakes import ScriptedText
from tests.graph_fixtures import tiny_assistant, tiny_components
from tests.serve_fixtures import running_server

openai = pytest.importorskip("openai", reason="the openai client (dev extra) is not installed")

TEXT = "Rain is water falling from clouds. It helps plants grow."
FIRST = "Rain is water"


def _without_continuation(monkeypatch) -> None:
    """The behaviour before `runtime.resume`: the fallback's stream reaches the client as is."""
    monkeypatch.setattr(SentText, "resume", lambda self: Resume("", self.on_token))


@pytest.mark.parametrize("continued", [True, False], ids=["continued", "without-continuation"])
def test_a_cut_stream_reaches_an_openai_client_once(tiny_base, tmp_path, monkeypatch, continued):
    if not continued:
        _without_continuation(monkeypatch)
    with FakeVllmServer(mode="cut", cut_after=3, text=TEXT) as server:
        assistant = tiny_assistant(
            tiny_base, tmp_path, max_new_tokens=16, engine="vllm", vllm_url=server.url
        )
        # The in-process runtime answers what vLLM was sending (greedy decoding, one model).
        assistant.components.get_experts()._parts["text"] = ScriptedText(TEXT)  # type: ignore[attr-defined]
        with running_server(assistant) as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
            chunks = list(
                client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": "What is rain?"}],
                    stream=True,
                    metadata={"thread_id": "rain"},
                )
            )
        asked = len(server.requests)
    assert asked, "the turn never reached the vLLM stand-in: no general answer was generated"
    deltas = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    extra = final.model_extra["manyshores"]
    assert any("closed" in n for n in extra["notes"])  # the stream was cut, the turn went on
    if continued:
        assert deltas.count(FIRST) == 1 and deltas == extra["answer"] and TEXT in deltas
    else:  # the repetition, reproduced
        assert deltas.count(FIRST) == 2 and deltas != extra["answer"]


@pytest.mark.parametrize("continued", [True, False], ids=["continued", "without-continuation"])
def test_a_task_adapter_stream_cut_continues_in_process_once(
    tiny_base, tmp_path, monkeypatch, continued
):
    from manyshores.experts.lora.config import LoraExpertConfig
    from manyshores.experts.task_adapters import TaskAdapterConfig, train_task_adapter

    if not continued:
        _without_continuation(monkeypatch)
    adapter = "KEN.everyday_qa.lora"
    with FakeVllmServer(mode="cut", cut_after=3, text=TEXT, models=["base", adapter]) as server:
        components = tiny_components(tiny_base, tmp_path, engine="vllm", vllm_url=server.url)
        examples = [
            {
                "id": f"KEN{i}",
                "culture": "KEN",
                "format": "short_answer",
                "question": f"Why does it rain on day {i}?",
                "answer": "clouds",
                "provenance": {"passage": "Rain falls from clouds."},
            }
            for i in range(4)
        ]
        train_task_adapter(
            tiny_base,
            examples,
            culture="KEN",
            task="everyday_qa",
            root=components.settings.user_experts_dir,
            config=TaskAdapterConfig(lora=LoraExpertConfig(r=2, alpha=4, epochs=1), batch_size=4),
            progress=False,
        )
        backend = components.get_experts()
        runner = backend._part("runner")  # type: ignore[attr-defined]
        monkeypatch.setattr(runner, "generate", lambda *a, **k: TEXT)
        posterior = {
            "cultures": [{"id": "KEN", "name": "Kenya", "p": 0.9}, {"id": "TZA", "p": 0.1}],
            "ambiguous": False,
            "unknown": False,
            "signals": [],
        }
        task = {"name": "open_qa", "question": "Why does it rain?", "options": []}
        decision = backend.route(posterior, task, language="en")  # type: ignore[arg-type]
        assert decision.path == "task_adapter" and decision.experts[0]["id"] == adapter
        pieces: list[str] = []
        [answer] = backend.answer(
            decision.experts,
            text=task["question"],
            task=task,  # type: ignore[arg-type]
            sources=[],
            conversation=[],
            on_token=pieces.append,
        )
    assert "closed" in answer["note"] and pieces[:3] == ["Rain", " is", " water"]
    received = "".join(pieces)
    if continued:
        assert received == answer["text"] == TEXT
    else:
        assert received.count(FIRST) == 2
