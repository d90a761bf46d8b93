"""The llama.cpp text runtime: its choice and fallback, its prompts, its KV cache reuse.

The runtime itself runs on the real default GGUF (llama.cpp has no tiny model here), so those
tests are marked slow; the choice between runtimes and the prompt rendering run on the tiny
transformers model.
"""

from __future__ import annotations

import importlib.util
import time

import pytest

from manyshores.config import Settings
from manyshores.errors import ModelLoadError
from manyshores.runtime import llamacpp
from manyshores.runtime.llamacpp import common_prefix, render_chat
from manyshores.runtime.selection import text_runtime
from manyshores.runtime.text import TransformersText

HAVE_BINDING = importlib.util.find_spec("cyllama") is not None
CHATS = [
    [{"role": "user", "content": "hi"}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "How do I fix a slipping bicycle chain? café, 日本 — ok?"},
    ],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And  of Spain?\n\n"},
    ],
]


def test_common_prefix_stops_at_the_first_difference_and_the_limit():
    assert common_prefix([1, 2, 3, 4], [1, 2, 9, 4], 10) == 2
    assert common_prefix([1, 2, 3], [1, 2, 3, 4], 2) == 2
    assert common_prefix([], [1], 1) == 0


def test_chat_rendering_matches_the_tokenizers_template(tiny_base):
    tok = tiny_base.tokenizer
    for chat in CHATS:
        want = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        got = render_chat(tok.chat_template, chat, tok.bos_token, tok.eos_token)
        assert got == want


def test_auto_falls_back_to_transformers_without_the_binding(tmp_path, tiny_base, monkeypatch):
    monkeypatch.setattr(llamacpp, "available", lambda: False)
    settings = Settings(home=tmp_path, text_runtime="auto")
    # A GGUF base model, but no binding: the transformers loop, loaded only when used.
    calls: list[int] = []

    def load():
        calls.append(1)
        return tiny_base

    runtime = text_runtime(settings, load, spec="default")
    assert isinstance(runtime, TransformersText) and runtime.name == "transformers"
    assert calls == []
    assert runtime.prompt_tokens(CHATS[0]) > 0 and calls == [1]


def test_auto_falls_back_when_llama_cpp_cannot_load(tmp_path, tiny_base, monkeypatch):
    def broken(*_args, **_kwargs):
        raise ModelLoadError("llama.cpp cannot load x.gguf")

    monkeypatch.setattr(llamacpp, "available", lambda: True)
    monkeypatch.setattr(llamacpp, "LlamaCppText", broken)
    runtime = text_runtime(Settings(home=tmp_path, text_runtime="auto"), tiny_base, "x.gguf")
    assert isinstance(runtime, TransformersText)
    with pytest.raises(ModelLoadError, match="cannot load"):
        text_runtime(Settings(home=tmp_path, text_runtime="llama_cpp"), tiny_base, "x.gguf")


def test_the_bare_base_answer_names_its_runtime(tiny_base, tmp_path):
    from manyshores.components import Components
    from manyshores.components.expert_backend import CommitteeBackend

    settings = Settings(home=tmp_path, tavily_api_key=None, max_new_tokens=6)
    backend = CommitteeBackend(Components(settings=settings, base=tiny_base))
    pieces: list[str] = []
    choice = {"id": "base", "culture": "", "kind": "base", "weight": 1.0, "reason": "general"}
    [answer] = backend.answer(
        [choice],  # type: ignore[list-item]
        text="What is tea?",
        task={"name": "open_question", "question": "What is tea?", "options": []},
        sources=[],
        conversation=[{"role": "user", "content": "What is tea?"}],
        on_token=pieces.append,
    )
    assert answer["runtime"] == "transformers"  # the tiny model is no GGUF
    assert "".join(pieces).strip() == answer["text"]
    assert 0 < answer["output_tokens"] <= 6 and answer["input_tokens"] > 0
    assert "committee" not in backend._parts  # no registry, no experts for a general answer


# ---- on the real default GGUF ---------------------------------------------------------------


@pytest.fixture(scope="module")
def runtime():
    if not HAVE_BINDING:
        pytest.skip("the llama.cpp binding is not installed (`pip install -e '.[fast]'`)")
    from manyshores.runtime.base_model import default_gguf_path

    return llamacpp.LlamaCppText(str(default_gguf_path()), threads=1, n_ctx=4096, slots=3)


def _generate(rt, chat, n=24):
    counts: list[int] = []
    text = "".join(rt.stream(chat, n, counts))
    return text, counts


@pytest.mark.slow
def test_prompt_ids_equal_the_transformers_tokenizers(runtime):
    from manyshores.runtime.base_model import load_base_model

    base = load_base_model("default", Settings())
    for chat in CHATS:
        want = base.tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_dict=True
        )["input_ids"]
        assert runtime.prompt_ids(chat) == [int(t) for t in want]


@pytest.mark.slow
def test_kept_sequences_give_the_text_a_fresh_context_gives(runtime):
    from manyshores.runtime.base_model import default_gguf_path
    from manyshores.timing import PhaseRecorder, recording

    fresh = llamacpp.LlamaCppText(str(default_gguf_path()), threads=1, n_ctx=4096, slots=3)
    want = [_generate(fresh, chat) for chat in CHATS]
    fresh.ctx.memory_seq_rm(-1, -1, -1)
    # In another order, each prompt after others that share its system prompt or not: the
    # answers do not depend on what the cache held.
    for i in (2, 1, 0, 2, 1):
        assert _generate(runtime, CHATS[i]) == want[i]
    # A follow-up runs only its new tokens: the exchange before it is kept.
    first = CHATS[2][:2]
    answer, _ = _generate(runtime, first)
    follow = [*first, {"role": "assistant", "content": answer}, CHATS[2][3]]
    recorder = PhaseRecorder()
    with recording(recorder):
        ids = runtime.prompt_ids(follow)
        start = runtime._start(ids, 0)
    assert start > len(runtime.prompt_ids(first))  # the kept exchange's cache is the start
    text, counts = _generate(runtime, follow)
    assert counts and 0 < counts[0] <= 24 and text


@pytest.mark.slow
def test_answers_fit_when_kept_sequences_fill_the_cache():
    """Kept prompts share a small cache with the answer being written: when the answer needs
    cells they hold, they give them up instead of failing the turn."""
    from manyshores.runtime.base_model import default_gguf_path

    small = llamacpp.LlamaCppText(str(default_gguf_path()), threads=1, n_ctx=512, slots=3)
    # A long exchange is kept (~430 cells); the next prompt's prefill still fits beside it, but
    # its answer does not.
    for i, repeats in enumerate([50, 1, 1]):
        chat = [
            {
                "role": "system",
                "content": f"Context {i}: " + "tea and bread in the morning " * repeats,
            },
            {"role": "user", "content": f"Question {i}: what do people eat for breakfast?"},
        ]
        text, counts = _generate(small, chat, n=100)
        assert text.strip() and counts and 0 < counts[0] <= 101


@pytest.mark.slow
def test_a_spent_budget_stops_generation(runtime):
    from manyshores.budget import budget_scope

    with budget_scope(time.monotonic() + 0.0, 0.0001) as budget:
        text, counts = _generate(runtime, CHATS[1], 40)
    assert budget is not None and budget.cut
    assert counts[0] < 40


@pytest.mark.slow
def test_llama_cpp_decodes_faster_than_the_transformers_loop(runtime):
    """The reason llama.cpp is the default: same prompt, same number of tokens, side by side."""
    from manyshores.runtime.base_model import load_base_model
    from manyshores.runtime.generation import decode_stream
    from manyshores.timing import PhaseRecorder, recording

    base = load_base_model("default", Settings())
    ids = runtime.prompt_ids(CHATS[1])
    rates = {}
    for name, run in (
        ("llama", lambda: list(runtime.decode(ids, 24))),
        ("torch", lambda: list(decode_stream(base, ids, 24))),
    ):
        recorder = PhaseRecorder()
        with recording(recorder):
            run()
        rates[name] = recorder.counts["generated"] / recorder.seconds["decode"]
    assert rates["llama"] > rates["torch"]


@pytest.mark.slow
def test_a_primed_system_prompt_is_reused_and_changes_no_answer():
    if not HAVE_BINDING:
        pytest.skip("the llama.cpp binding is not installed (`pip install -e '.[fast]'`)")
    from manyshores.components.expert_backend import GENERAL_SYSTEM_PROMPT
    from manyshores.runtime.base_model import default_gguf_path

    chat = [
        {"role": "system", "content": GENERAL_SYSTEM_PROMPT},
        {"role": "user", "content": "How do I fix a bicycle chain that keeps slipping?"},
    ]
    fresh = llamacpp.LlamaCppText(str(default_gguf_path()), threads=1, n_ctx=4096, slots=3)
    want = _generate(fresh, chat)
    primed = llamacpp.LlamaCppText(str(default_gguf_path()), threads=1, n_ctx=4096, slots=3)
    kept = primed.prime(chat[:1])
    assert kept > 10 and any(len(s.tokens) == kept for s in primed._slots)
    ids = primed.prompt_ids(chat)
    assert ids[:kept] == next(s.tokens for s in primed._slots if len(s.tokens) == kept)
    assert primed.prime([]) == 0  # no system message: nothing to run
    assert _generate(primed, chat) == want
