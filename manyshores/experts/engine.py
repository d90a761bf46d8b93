"""The engine seam: the few model operations a turn needs, whatever runs them.

`Engine` is what the graph's expert backend calls: score options for a batch of experts,
generate for a batch of experts, and stream the words of a lone generating expert. The
in-process `Committee` (transformers, exact: soft prompts, LoRA, option scoring) is the
default implementation; a server engine (vLLM) implements the same three operations.

Plain generation — a prompt with no soft prompt or adapter (personas, the bare base) — is one
step further down: a `TextRuntime` turns chat messages into streamed text. The default is the
lean transformers loop (`generation.stream_text`); `llama_cpp` runs the shipped GGUF through
llama.cpp (`pip install -e '.[llama]'`), chosen by `MANYSHORES_TEXT_RUNTIME`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from manyshores.errors import ModelLoadError
from manyshores.timing import count, phase

if TYPE_CHECKING:
    from manyshores.config import Settings
    from manyshores.experts.base_model import BaseModel
    from manyshores.state import ExpertAnswer, ExpertChoice


TOKENIZER_LOCK = threading.Lock()
"""Held around the base model's fast tokenizer where turns run on several threads at once
(a serving engine): a Rust tokenizer must not be entered from two threads at a time."""


class Engine(Protocol):
    """Model work for a batch of experts of one base model."""

    def score_options(
        self,
        question: str,
        options: list[str],
        context: str | None,
        choices: list[ExpertChoice],
    ) -> list[ExpertAnswer]:
        """Each expert's distribution over `options`."""
        ...

    def generate(
        self,
        messages: list[dict[str, str]],
        choices: list[ExpertChoice],
        max_new_tokens: int = 96,
        ignore_eos: bool = False,
        on_token: Callable[[str], None] | None = None,
    ) -> list[ExpertAnswer]:
        """Each expert's greedy answer; `on_token` streams a lone plain-generating expert."""
        ...


class TextRuntime(Protocol):
    """Plain greedy generation from chat messages (no soft prompt, no adapter)."""

    name: str

    def stream(self, messages: list[dict[str, str]], max_new_tokens: int) -> Iterator[str]:
        """The answer's text, piece by piece as it is generated."""
        ...


class TransformersText:
    """The default: the lean decode loop on the shared base model (exact, greedy)."""

    name = "transformers"

    def __init__(self, base: BaseModel) -> None:
        self.base = base

    def stream(self, messages: list[dict[str, str]], max_new_tokens: int) -> Iterator[str]:
        from manyshores.experts.generation import stream_text

        return stream_text(self.base, messages, max_new_tokens)


class LlamaCppText:
    """llama.cpp on a GGUF file, for plain generation only (quantised weights: its text can
    differ from the float model's after some tokens; scoring and experts never run here)."""

    name = "llama_cpp"

    def __init__(self, gguf: str, threads: int, n_ctx: int = 2048) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelLoadError(
                "MANYSHORES_TEXT_RUNTIME=llama_cpp needs llama-cpp-python: "
                "`pip install -e '.[llama]'` (builds llama.cpp, ~10 min)"
            ) from exc
        with phase("load"):
            self.llm = Llama(
                model_path=gguf,
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        self.n_ctx = n_ctx
        # One llama context: one generation at a time (the graph's experts run in threads).
        self._lock = threading.Lock()

    def stream(self, messages: list[dict[str, str]], max_new_tokens: int) -> Iterator[str]:
        with self._lock:
            yield from self._stream(messages, max_new_tokens)

    def _stream(self, messages: list[dict[str, str]], max_new_tokens: int) -> Iterator[str]:
        from manyshores.budget import current

        budget = current()
        with phase("tokenise"):
            prompt = self._prompt(messages)
        eos = self.llm.token_eos()
        tokens: list[int] = []
        emitted = ""
        import time

        start = time.perf_counter()
        first: float | None = None
        # llama.cpp keeps the previous prompt's KV cache and reuses its common prefix.
        for token in self.llm.generate(prompt, temp=0.0, top_k=1, reset=False):
            if first is None:
                first = time.perf_counter()
                _record("prefill", first - start)
            if token == eos:
                break
            tokens.append(int(token))
            text = self.llm.detokenize(tokens).decode("utf-8", errors="replace")
            if len(text) > len(emitted) and not text.endswith("\ufffd"):
                piece, emitted = text[len(emitted) :], text
                yield piece
            if len(tokens) >= max_new_tokens:
                break
            if budget is not None and time.monotonic() > budget.deadline:
                budget.cut = True
                break
        if first is not None:
            _record("decode", time.perf_counter() - first)
        count("generated", len(tokens))

    def _prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """The chat rendered by the GGUF's own template (the same as the tokenizer's)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        else:
            eos = self.llm.detokenize([self.llm.token_eos()]).decode("utf-8", errors="replace")
            bos = self.llm.detokenize([self.llm.token_bos()]).decode("utf-8", errors="replace")
            formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
            text = formatter(messages=messages).prompt  # type: ignore[arg-type]
        ids = self.llm.tokenize(text.encode(), add_bos=False, special=True)
        return [int(t) for t in ids[-(self.n_ctx - 256) :]]


def _record(name: str, seconds: float) -> None:
    from manyshores.timing import record

    record(name, seconds)


def text_runtime(settings: Settings, base: BaseModel) -> TextRuntime:
    """The plain-generation runtime the settings ask for (`auto`: llama.cpp when installed and
    the base model is a GGUF, else transformers)."""
    choice = settings.text_runtime
    gguf = _gguf_for(base.spec)  # the model actually loaded, which a caller may have given
    if choice == "auto":
        import importlib.util

        # llama.cpp decodes the shipped quantised weights ~3x faster than float32 transformers.
        usable = gguf is not None and importlib.util.find_spec("llama_cpp") is not None
        choice = "llama_cpp" if usable else "transformers"
    if choice == "transformers":
        return TransformersText(base)
    if gguf is None:
        raise ModelLoadError(
            "MANYSHORES_TEXT_RUNTIME=llama_cpp needs a GGUF base model (the default, or a "
            f".gguf path); {base.spec!r} is not one"
        )
    from manyshores.threads import configure_threads

    return LlamaCppText(gguf, configure_threads(settings))


def _gguf_for(spec: str) -> str | None:
    from manyshores.experts.base_model import default_gguf_path

    if spec == "default":
        try:
            return str(default_gguf_path())
        except ModelLoadError:
            return None
    return spec if spec.endswith(".gguf") else None


def stream_with(
    runtime: TextRuntime, messages: list[dict[str, str]], max_new_tokens: int, on_token: Any
) -> str:
    """Run `runtime`, passing each piece to `on_token` (if any); the whole answer, stripped."""
    pieces: list[str] = []
    for piece in runtime.stream(messages, max_new_tokens):
        pieces.append(piece)
        if on_token is not None:
            on_token(piece)
    return "".join(pieces).strip()
