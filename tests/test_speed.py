"""The fast paths stay exact: lean decoding, the prefix KV cache, thread choice, the turn budget
and the survey-memory vector cache (tiny model, real tokenizer and template)."""

from __future__ import annotations

import time

import pytest

from manyshores.budget import budget_scope
from manyshores.runtime import generation
from manyshores.runtime.generation import chat_input_ids, decode_stream, stream_text
from manyshores.threads import choose_threads

MESSAGES = [
    {"role": "system", "content": "You are a helpful person from Kenya."},
    {"role": "user", "content": "What do families usually eat for breakfast?"},
]


def _hf_greedy(base, messages, n):
    import torch

    ids = chat_input_ids(base, messages)
    with torch.inference_mode():
        out = base.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=base.tokenizer.pad_token_id,
        )
    return str(base.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))


def test_lean_decoding_equals_transformers_generate(tiny_base):
    generation._prefixes.entries.clear()
    want = _hf_greedy(tiny_base, MESSAGES, 12)
    assert "".join(stream_text(tiny_base, MESSAGES, 12)) == want
    # Kept: the system prompt alone and the whole first exchange.
    assert len(generation._prefixes.entries) == 2
    assert "".join(stream_text(tiny_base, MESSAGES, 12)) == want
    assert len(generation._prefixes.entries) == 2
    other = [{"role": "system", "content": "You answer briefly."}, MESSAGES[1]]
    assert "".join(stream_text(tiny_base, other, 12)) == _hf_greedy(tiny_base, other, 12)
    assert len(generation._prefixes.entries) == 4


def test_a_follow_up_reuses_the_previous_turn_and_answers_the_same(tiny_base, monkeypatch):
    generation._prefixes.entries.clear()
    first = "".join(stream_text(tiny_base, MESSAGES, 10))
    follow = [
        *MESSAGES,
        {"role": "assistant", "content": first},
        {"role": "user", "content": "And for lunch?"},
    ]
    prompt = len(chat_input_ids(tiny_base, follow)[0])
    fed: list[int] = []
    forward = tiny_base.model.forward

    def counting(*args, **kwargs):
        fed.append(int(kwargs["input_ids"].shape[1]))
        return forward(*args, **kwargs)

    monkeypatch.setattr(tiny_base.model, "forward", counting)
    got = "".join(stream_text(tiny_base, follow, 10))
    monkeypatch.undo()
    assert fed[0] < prompt - 10  # the first turn's tokens were not run again
    assert got == _hf_greedy(tiny_base, follow, 10)


def test_fixed_prefix_is_only_the_system_part(tiny_base):
    ids = [int(t) for t in chat_input_ids(tiny_base, MESSAGES)[0].tolist()]
    fixed = generation.fixed_prefix_length(tiny_base, MESSAGES, ids)
    assert 0 < fixed < len(ids)
    assert generation.fixed_prefix_length(tiny_base, MESSAGES[1:], ids) == 0  # no system turn


def test_a_spent_budget_stops_decoding_and_says_so(tiny_base):
    ids = [int(t) for t in chat_input_ids(tiny_base, MESSAGES)[0].tolist()]
    full = "".join(decode_stream(tiny_base, ids, 12))
    with budget_scope(time.monotonic() - 1.0, 5.0) as budget:
        cut = "".join(decode_stream(tiny_base, ids, 12))
    assert budget is not None and budget.cut
    assert len(cut) < len(full) and full.startswith(cut)


def test_turn_budget_reaches_the_expert_node_and_the_trace(tiny_base, tmp_path):
    from tests.graph_fixtures import tiny_assistant

    a = tiny_assistant(tiny_base, tmp_path, max_new_tokens=40, turn_timeout_s=1e-9)
    r = a.invoke("Explain how to fix a bicycle chain that keeps slipping.", thread_id="b")
    assert any("time budget" in n for n in r.values["notes"])
    relaxed = tiny_assistant(tiny_base, tmp_path / "2", max_new_tokens=4, turn_timeout_s=0)
    r = relaxed.invoke("Explain how to fix a bicycle chain that keeps slipping.", thread_id="c")
    assert not any("time budget" in n for n in r.values["notes"])


@pytest.mark.parametrize(
    ("cores", "load", "want"),
    [(2, 0.1, 2), (2, 0.6, 1), (2, 7.0, 1), (8, 3.0, 5), (1, 0.0, 1), (4, 0.0, 4)],
)
def test_threads_follow_free_cores(cores, load, want):
    assert choose_threads(cores, load) == want


def test_survey_vectors_are_embedded_once_per_machine(tmp_path, monkeypatch):
    from manyshores.memory import embeddings
    from manyshores.survey.memory import SurveyMemory

    questions = {"q1": ("How important is family?", ("Very", "Not")), "q2": ("Work?", ("A", "B"))}
    answers = {"KEN": {"q1": [0.9, 0.1], "q2": [0.4, 0.6]}}
    first = SurveyMemory(dict(questions), answers, vector_cache=tmp_path)
    want = first.predict("KEN", "How important is family?", ["Very", "Not"], qid="q1")
    assert list(tmp_path.glob("survey-vectors-*.npy"))

    def refuse(texts):  # only the asked question may be embedded now, never the stored ones
        if len(texts) > 1:
            raise AssertionError("stored questions embedded again")
        return real(texts)

    real = embeddings.embed
    monkeypatch.setattr(embeddings, "embed", refuse)
    second = SurveyMemory(dict(questions), answers, vector_cache=tmp_path)
    got = second.predict("KEN", "How important is family?", ["Very", "Not"], qid="q1")
    assert want is not None and got is not None and got.probs == pytest.approx(want.probs)


def test_a_lone_persona_streams_through_the_engine_seam(tiny_base):
    from manyshores.experts.committee import Committee
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.runtime.text import TransformersText

    class Persona:
        def system_prompt(self) -> str:
            return "You are a helpful person from Kenya."

    registry = ExpertRegistry(tiny_base, [])
    registry._loaded["persona:KEN"] = Persona()
    committee = Committee(tiny_base, registry, TransformersText(tiny_base))
    choice = {"id": "persona:KEN", "culture": "KEN", "kind": "persona", "weight": 1.0, "reason": ""}
    pieces: list[str] = []
    [answer] = committee.generate(MESSAGES[1:], [choice], 10, on_token=pieces.append)
    assert pieces and "".join(pieces).strip() == answer["text"]
    assert answer["text"] == _hf_greedy(tiny_base, MESSAGES, 10).strip()
    both = committee.generate(MESSAGES[1:], [choice, choice], 10, on_token=pieces.append)
    assert [a["text"] for a in both] == [answer["text"]] * 2  # a committee does not stream


def test_llama_cpp_runtime_needs_a_gguf_base(tmp_path, tiny_base):
    from manyshores.config import Settings
    from manyshores.errors import ModelLoadError
    from manyshores.runtime.selection import text_runtime
    from manyshores.runtime.text import TransformersText

    settings = Settings(home=tmp_path, text_runtime="llama_cpp")
    with pytest.raises(ModelLoadError, match="GGUF"):
        text_runtime(settings, tiny_base)  # the model given, not the settings' default, counts
    auto = text_runtime(Settings(home=tmp_path, text_runtime="auto"), tiny_base)
    assert isinstance(auto, TransformersText)


def test_warm_up_builds_each_collaborator_once(tiny_base, tmp_path):
    from manyshores.graph.warm import warm_up
    from tests.graph_fixtures import tiny_components

    components = tiny_components(tiny_base, tmp_path)
    assert components.detector is None and components.experts is None
    warm_up(components).join(timeout=300)
    detector, retriever, experts = components.detector, components.retriever, components.experts
    assert detector is not None and retriever is not None and experts is not None
    assert {"committee", "memory"} <= set(experts._parts)  # type: ignore[attr-defined]
    assert experts._parts["memory"]._vectors  # type: ignore[attr-defined]  # survey vectors
    # A turn after the warm-up uses the very same objects: nothing is loaded twice.
    from manyshores.graph.assistant import CultureAssistant

    CultureAssistant(components).invoke("What do people in Kenya eat?", thread_id="w")
    assert components.detector is detector and components.experts is experts


def test_warm_up_for_a_known_message_loads_only_what_its_turn_can_use(tiny_base, tmp_path):
    from manyshores.graph.warm import warm_up
    from tests.graph_fixtures import tiny_components

    general = tiny_components(tiny_base, tmp_path / "general")
    warm_up(general, "Explain how to fix a bicycle chain that keeps slipping.").join(timeout=300)
    assert general.detector is not None and general.retriever is not None
    parts = general.experts._parts  # type: ignore[union-attr]
    assert "text" in parts and not {"registry", "committee", "memory"} & set(parts)
    assert general.evidence is None  # no culture named: no evidence to rank

    named = tiny_components(tiny_base, tmp_path / "named")
    warm_up(named, "What do families in Kenya eat for breakfast?").join(timeout=300)
    assert named.evidence is not None
    assert "committee" not in named.experts._parts  # type: ignore[union-attr]

    survey = tiny_components(tiny_base, tmp_path / "survey")
    warm_up(
        survey,
        "I'm from Kenya. How important is family in your life? Options: Very important, "
        "Rather important, Not very important, Not at all important",
    ).join(timeout=300)
    parts = survey.experts._parts  # type: ignore[union-attr]
    assert {"committee", "memory"} <= set(parts) and survey.evidence is None


def test_chat_ended_while_the_warm_up_runs_exits_cleanly(tiny_base, tmp_path):
    """A chat ended while its warm-up is still inside native code (a model or the embedder
    loading) used to abort at exit ("terminate called without an active exception")."""
    import os
    import subprocess
    import sys

    model = tmp_path / "tiny"
    tiny_base.model.save_pretrained(model, safe_serialization=True)
    tiny_base.tokenizer.save_pretrained(model)
    env = {
        **os.environ,
        "MANYSHORES_HOME": str(tmp_path / "home"),  # nothing cached: the warm-up has work to do
        "MANYSHORES_BASE_MODEL": str(model),
        "MANYSHORES_TAVILY_API_KEY": "",
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "manyshores.cli.main", "chat"],
        input="I'm from Greece. What do we eat at Easter?\nWhat about in Japan?\n/quit\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "terminate called" not in proc.stderr
    assert "Greece" in proc.stdout or "GRC" in proc.stdout
