"""The vLLM engine against a local server that speaks its protocol well or badly (no vLLM needed):
answers come from the server when it answers; when it refuses, hangs past the timeout, dies
mid-stream or answers garbage, the work runs in-process and the answer says so, never a hang;
`serve` keeps answering other requests meanwhile."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest
from safetensors.torch import save_file

from manyshores.experts.committee import Committee
from manyshores.experts.vllm.adapters import export_lora, max_rank, store_lora_dirs, zero_adapter
from manyshores.experts.vllm.engine import VllmEngine
from manyshores.runtime.resume import CUT_NOTE
from manyshores.runtime.vllm_client import EngineError, VllmClient
from manyshores.state import ExpertChoice
from manyshores.testing.postgres import free_port
from manyshores.testing.vllm_server import FakeVllmServer
from tests.fakes import ScriptedText

OPTIONS = ["Very important", "Rather important", "Not very important", "Not at all important"]
QUESTION = "How important is family in your life?"
BASE: ExpertChoice = {"id": "base", "culture": "", "kind": "base", "weight": 1.0, "reason": ""}
PERSONA: ExpertChoice = {
    "id": "persona:KEN",
    "culture": "KEN",
    "kind": "persona",
    "weight": 1.0,
    "reason": "",
}
CHAT = [{"role": "user", "content": "What gift should I bring to a dinner with friends?"}]


def _engine(tiny_base, tmp_path, url: str, timeout_s: float = 5.0) -> VllmEngine:
    client = VllmClient(url, timeout_s=timeout_s, connect_timeout_s=1.0)
    return VllmEngine(tiny_base, None, client, Committee(tiny_base), tmp_path / "adapters")


def test_options_and_text_come_from_the_server(tiny_base, tmp_path):
    with FakeVllmServer() as server:
        engine = _engine(tiny_base, tmp_path, server.url)
        answers = engine.score_options(QUESTION, OPTIONS, None, [BASE, PERSONA])
        expected = [math.exp(x) for x in server.option_logprobs]
        expected = [x / sum(expected) for x in expected]
        for a in answers:
            assert a["engine"] == "vllm" and "note" not in a
            assert a["option_probs"] == pytest.approx(expected)
            assert a["text"] == OPTIONS[0]
        # The prompt is the in-process scorer's token ids; the persona's names its culture.
        from manyshores.runtime.scoring import prompt_ids, survey_messages

        bodies = [r for r in server.requests if r.get("logprob_token_ids")]
        prompts = sorted(len(r["prompt"]) for r in bodies)
        plain = prompt_ids(tiny_base, survey_messages(QUESTION, OPTIONS, None))
        assert len(plain) in prompts and max(prompts) > len(plain)
        assert all(r["model"] == "base" and r["temperature"] == 0.0 for r in bodies)

        pieces: list[str] = []
        [answer] = engine.generate(CHAT, [PERSONA], max_new_tokens=16, on_token=pieces.append)
        assert answer["text"] == server.text == "".join(pieces)
        assert len(pieces) == len(server.text.split()) and answer["engine"] == "vllm"
        both = engine.generate(CHAT, [BASE, PERSONA], max_new_tokens=16)
        assert [a["text"] for a in both] == [server.text, server.text]


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("refused", "refused the connection"),
        ("hang", "sent nothing for 0.5 s"),
        ("500", "answered 500"),
        ("garbage", "no log-probability of every option"),
    ],
)
def test_a_failing_server_degrades_to_in_process_with_a_note(tiny_base, tmp_path, mode, why):
    local = Committee(tiny_base)
    exact = local.score_options(QUESTION, OPTIONS, None, [BASE, PERSONA])
    with FakeVllmServer(mode="ok" if mode == "refused" else mode, hang_s=3.0) as server:
        url = f"http://127.0.0.1:{free_port()}" if mode == "refused" else server.url
        engine = _engine(tiny_base, tmp_path, url, timeout_s=0.5)
        start = time.monotonic()
        answers = engine.score_options(QUESTION, OPTIONS, None, [BASE, PERSONA])
        assert time.monotonic() - start < 2.5  # one timeout, not one per expert, never a hang
        for a, b in zip(answers, exact, strict=True):
            assert a["engine"] == "in-process"
            assert why in a["note"] and "ran in-process" in a["note"]
            assert a["option_probs"] == pytest.approx(b["option_probs"])
        # Left alone for a while: the next call does not wait for the server again.
        seen = len(server.requests)
        start = time.monotonic()
        [again] = engine.generate(CHAT, [PERSONA], max_new_tokens=4)
        assert time.monotonic() - start < 2.0 and len(server.requests) == seen
        assert again["engine"] == "in-process" and why in again["note"]


@pytest.mark.parametrize("same", [True, False])
def test_a_stream_cut_mid_answer_continues_in_process_without_repeating(tiny_base, tmp_path, same):
    # The in-process runtime writes the server's answer (greedy decoding of one model: the
    # usual case) or another one.
    server_text = "Bring a small gift and arrive on time."
    local_text = server_text if same else "Bring flowers for the host."
    local = Committee(tiny_base, text=ScriptedText(local_text))
    with FakeVllmServer(mode="cut", cut_after=2, text=server_text) as server:
        engine = VllmEngine(
            tiny_base, None, VllmClient(server.url, timeout_s=5.0), local, tmp_path / "a"
        )
        pieces: list[str] = []
        [answer] = engine.generate(CHAT, [PERSONA], max_new_tokens=16, on_token=pieces.append)
    assert "closed" in answer["note"] and answer["engine"] == "in-process"
    # What the caller received is exactly the final answer: the two words sent before the cut
    # once, then the rest when the in-process answer continues them, else nothing more.
    assert "".join(pieces) == answer["text"]
    if same:
        assert answer["text"] == server_text and CUT_NOTE not in answer["note"]
        assert pieces[:2] == ["Bring", " a"] and pieces[2] == " small"
    else:
        assert answer["text"] == "Bring a" and CUT_NOTE in answer["note"]


def test_a_general_answer_cut_mid_stream_reaches_a_serve_client_once(tiny_base, tmp_path):
    """Through the whole turn and `serve`'s OpenAI stream: the deltas are the answer."""
    from fastapi.testclient import TestClient

    from manyshores.components import Components
    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.graph.checkpoints import open_settings_checkpointer
    from manyshores.serve.app import create_app
    from manyshores.serve.config import ServeConfig

    text = "Rain is water falling from clouds. It helps plants grow."
    with FakeVllmServer(mode="cut", cut_after=3, text=text) as server:
        settings = Settings(home=tmp_path, tavily_api_key=None, engine="vllm", vllm_url=server.url)
        components = Components(settings=settings, base=tiny_base)
        backend = components.get_experts()
        backend._parts["text"] = ScriptedText(text)  # the in-process runtime's answer
        assistant = CultureAssistant(components, open_settings_checkpointer(settings))
        app = create_app(assistant, ServeConfig())
        with TestClient(app) as client:
            body = {
                "model": "manyshores",
                "stream": True,
                "messages": [{"role": "user", "content": "Why does it rain?"}],
            }
            with client.stream("POST", "/v1/chat/completions", json=body) as r:
                events = [
                    json.loads(line[6:])
                    for line in r.iter_lines()
                    if line.startswith("data: ") and line != "data: [DONE]"
                ]
    deltas = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))
    final = next(e["manyshores"] for e in events if e.get("manyshores"))
    assert text in final["answer"] and deltas == final["answer"]
    assert deltas.count("Rain is water") == 1
    assert any("closed" in n for n in final["notes"])


def test_client_errors_name_the_server(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    client = VllmClient(url, timeout_s=0.5, connect_timeout_s=0.5)
    with pytest.raises(EngineError, match=f"vLLM server {url}.*refused the connection"):
        client.models()
    assert not client.healthy()
    with FakeVllmServer(mode="cut") as server:
        client = VllmClient(server.url, timeout_s=2.0)
        with pytest.raises(EngineError, match="closed the stream before its end"):
            list(client.stream("/v1/completions", {"prompt": [1, 2], "model": "base"}))


def _lora_expert(root, tiny_base, expert_id: str, rank: int = 4) -> None:
    import torch

    from manyshores.experts.lora.model import LoraExpert

    shapes = LoraExpert.expected_shapes(tiny_base, {"r": rank})
    assert shapes
    d = root / expert_id
    d.mkdir(parents=True)
    save_file({k: torch.randn(*v) for k, v in shapes.items()}, str(d / "weights.safetensors"))
    manifest = {"id": expert_id, "culture": "KEN", "kind": "lora", "base_fingerprint": "x"}
    manifest["hyperparameters"] = {"r": rank, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    (d / "manifest.json").write_text(json.dumps(manifest))


def test_store_lora_experts_export_as_peft_adapter_dirs(tiny_base, tmp_path):
    from safetensors import safe_open

    shipped, user = tmp_path / "shipped", tmp_path / "user"
    _lora_expert(shipped, tiny_base, "ken-lora")
    _lora_expert(user, tiny_base, "ken-lora", rank=8)  # the user's copy overrides the shipped
    _lora_expert(user, tiny_base, "usa-lora")
    dirs = store_lora_dirs([shipped, user])
    assert sorted(d.name for d in dirs) == ["ken-lora", "usa-lora"]
    assert all(d.parent == user for d in dirs)
    model_dir = tmp_path / "model"
    tiny_base.model.save_pretrained(model_dir, safe_serialization=True)
    out = tmp_path / "out"
    exported = [export_lora(d, out, model_dir) for d in dirs]
    zero = zero_adapter(out, model_dir)
    assert max_rank([*exported, zero]) == 8
    for a in exported:
        config = json.loads((a.path / "adapter_config.json").read_text())
        assert config["peft_type"] == "LORA" and config["r"] == a.rank
        assert (a.path / "adapter_model.safetensors").read_bytes() == (
            user / a.name / "weights.safetensors"
        ).read_bytes()
    with safe_open(str(zero.path / "adapter_model.safetensors"), framework="pt") as f:
        keys = list(f.keys())  # noqa: SIM118
        layers = tiny_base.model.config.num_hidden_layers
        assert len(keys) == 2 * 2 * layers  # q and v, A and B, every layer
        assert all(float(f.get_tensor(k).abs().sum()) == 0.0 for k in keys)


def test_an_adapter_added_after_start_is_loaded_dynamically(tiny_base, tmp_path):
    from manyshores.experts.registry import ExpertRegistry

    root = tmp_path / "store"
    _lora_expert(root, tiny_base, "ken-lora")
    manifest = json.loads((root / "ken-lora" / "manifest.json").read_text())
    manifest["base_fingerprint"] = tiny_base.fingerprint
    (root / "ken-lora" / "manifest.json").write_text(json.dumps(manifest))
    registry = ExpertRegistry(tiny_base, [root])
    model_dir = tmp_path / "model"
    tiny_base.model.save_pretrained(model_dir, safe_serialization=True)
    choice: ExpertChoice = {"id": "ken-lora", "culture": "KEN", "kind": "lora", "weight": 1.0}
    choice["reason"] = ""
    with FakeVllmServer() as server:
        engine = VllmEngine(
            tiny_base,
            registry,
            VllmClient(server.url),
            Committee(tiny_base, registry),
            tmp_path / "adapters",
            lambda: model_dir,
        )
        [answer] = engine.score_options(QUESTION, OPTIONS, None, [choice])
        assert answer["engine"] == "vllm"
        [load] = [r for r in server.requests if r["_path"] == "/v1/load_lora_adapter"]
        assert load["lora_name"] == "ken-lora"
        assert (tmp_path / "adapters" / "ken-lora" / "adapter_config.json").is_file()
        assert [r["model"] for r in server.requests if r.get("logprob_token_ids")] == ["ken-lora"]
        engine.score_options(QUESTION, OPTIONS, None, [choice])  # loaded once
        assert len([r for r in server.requests if r["_path"] == "/v1/load_lora_adapter"]) == 1


def test_serve_keeps_answering_while_the_engine_hangs(tiny_base, tmp_path):
    from openai import OpenAI

    from manyshores.serve import ServeConfig
    from tests.graph_fixtures import tiny_assistant
    from tests.serve_fixtures import running_server

    with FakeVllmServer(mode="hang", hang_s=4.0) as fake:
        assistant = tiny_assistant(
            tiny_base,
            tmp_path / "home",
            max_new_tokens=6,
            engine="vllm",
            vllm_url=fake.url,
            vllm_timeout_s=1.0,
        )
        with running_server(assistant, ServeConfig(workers=4)) as url:
            client = OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=60)
            results: dict[int, object] = {}

            def ask(i: int) -> None:
                text = ["What gift should I bring to a dinner in Kenya?", "Hello, how are you?"][i]
                results[i] = client.chat.completions.create(
                    model="manyshores", messages=[{"role": "user", "content": text}]
                )

            threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
            start = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert time.monotonic() - start < 45
    assert sorted(results) == [0, 1]
    extras = [r.model_extra["manyshores"] for r in results.values()]  # type: ignore[attr-defined]
    noted = [e for e in extras if any("vLLM engine failed" in n for n in e["notes"])]
    assert noted, [e["notes"] for e in extras]  # the trace says the answer ran in-process
    assert all(r.choices[0].message.content for r in results.values())  # type: ignore[attr-defined]


def test_engine_start_and_url_errors_say_what_to_do(tmp_path):
    from manyshores.config import Settings
    from manyshores.errors import ManyshoresError
    from manyshores.experts.vllm.server import engine_url, start, status, stop

    settings = Settings(home=tmp_path, vllm_python=tmp_path / "none" / "python", engine="vllm")
    with pytest.raises(ManyshoresError, match="make engine"):
        start(settings)
    with pytest.raises(EngineError, match="manyshores engine start"):
        engine_url(settings)
    assert not stop(settings)
    assert status(settings)["running"] is False
    with FakeVllmServer() as server:
        known = Settings(home=tmp_path, vllm_url=server.url, engine="vllm")
        assert engine_url(known) == server.url
        report = status(known)
        assert report["running"] is True and report["models"] == ["base"]
