"""Plain text generation, whatever runs it.

Plain generation — a prompt with no soft prompt or adapter (personas, the bare base) — is one
step further down: a `TextRuntime` turns chat messages into streamed text. The default is the
lean transformers loop (`generation.stream_text`) or llama.cpp on the shipped GGUF
(`runtime.llamacpp`), chosen by `MANYSHORES_TEXT_RUNTIME` (`auto`: llama.cpp when installed),
or any LangChain chat model when `MANYSHORES_CHAT_MODEL` names one (`runtime.chat_text`); `runtime.selection` picks one, with
the base model's runtime as its fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from manyshores.errors import ManyshoresError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from manyshores.runtime.base_model import BaseModel


TOKENIZER_LOCK = threading.Lock()
"""Held around the base model's fast tokenizer where turns run on several threads at once
(a serving engine): a Rust tokenizer must not be entered from two threads at a time."""


_FALLBACK_LOCK = threading.Lock()
"""Answers that fall back to the base model's runtime take turns: several requests to a remote
chat model fail together, and the base model serves one generation at a time."""


class TextRuntime(Protocol):
    """Plain greedy generation from chat messages (no soft prompt, no adapter)."""

    name: str
    """`transformers` or `llama_cpp`: shown with each generated answer (`ExpertAnswer.runtime`)."""

    def stream(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int,
        counts: list[int] | None = None,
    ) -> Iterator[str]:
        """The answer's text, piece by piece as it is generated; `counts`, when given, receives
        the number of generated tokens (an end token included) once generation is done."""
        ...

    def prompt_tokens(self, messages: list[dict[str, str]], reserve: int = 0) -> int:
        """Tokens of the prompt `messages` make (chat template included)."""
        ...


class TextRuntimeError(ManyshoresError):
    """A text runtime failed while answering (a remote chat model unreachable, silent past its
    timeout, cut mid-answer); `fallback` is the runtime to continue on, if there is one."""

    def __init__(self, message: str, fallback: TextRuntime | None = None) -> None:
        super().__init__(message)
        self.fallback = fallback


class TransformersText:
    """The lean decode loop on the shared base model (exact, greedy); the base model is loaded
    on first use, so choosing this runtime loads nothing."""

    name = "transformers"

    def __init__(self, base: BaseModel | Callable[[], BaseModel]) -> None:
        self._base = base

    @property
    def base(self) -> BaseModel:
        if callable(self._base):
            self._base = self._base()
        return self._base

    def stream(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int,
        counts: list[int] | None = None,
    ) -> Iterator[str]:
        from manyshores.runtime.generation import stream_text

        return stream_text(self.base, messages, max_new_tokens, counts)

    def prompt_tokens(self, messages: list[dict[str, str]], reserve: int = 0) -> int:
        from manyshores.runtime.usage import chat_prompt_tokens

        return chat_prompt_tokens(self.base, messages, reserve=reserve)


def stream_with(
    runtime: TextRuntime,
    messages: list[dict[str, str]],
    max_new_tokens: int,
    on_token: Any,
    counts: list[int] | None = None,
) -> str:
    """Run `runtime`, passing each piece to `on_token` (if any); the whole answer, stripped."""
    pieces: list[str] = []
    for piece in runtime.stream(messages, max_new_tokens, counts):
        pieces.append(piece)
        if on_token is not None:
            on_token(piece)
    return "".join(pieces).strip()


@dataclass
class TextAnswer:
    """One plain answer and what made it."""

    text: str
    """The answer, stripped (when a fallback cut it: the text sent before the failure)."""
    runtime: str
    """The runtime that generated it (`TextRuntime.name`)."""
    input_tokens: int
    """Prompt tokens, as that runtime counts them."""
    output_tokens: int
    """Generated tokens."""
    note: str | None = None
    """Why the answer ran on a fallback (for the trace); None when the runtime answered."""


def answer_text(
    runtime: TextRuntime,
    messages: list[dict[str, str]],
    max_new_tokens: int,
    on_token: Callable[[str], None] | None = None,
) -> TextAnswer:
    """`runtime`'s answer, streamed through `on_token`. When the runtime fails and names a
    fallback, the answer is generated again there and the stream continues past what was sent
    (`runtime.resume`): the client never receives text twice."""
    from manyshores.runtime.resume import CUT_NOTE, SentText

    sent = SentText(on_token)
    counts: list[int] = []
    try:
        text = stream_with(runtime, messages, max_new_tokens, sent.callback, counts)
        return TextAnswer(
            text, runtime.name, runtime.prompt_tokens(messages, max_new_tokens), sum(counts)
        )
    except TextRuntimeError as exc:
        if exc.fallback is None:
            raise
        fallback, failure = exc.fallback, str(exc)
    log.warning("%s", failure)
    resume = sent.resume()
    counts = []
    with _FALLBACK_LOCK:
        raw = stream_with(fallback, messages, max_new_tokens, resume.callback, counts)
        prompt = fallback.prompt_tokens(messages, max_new_tokens)
    text, cut = resume.finish(raw)
    note = f"{failure}; this answer ran on the base model ({fallback.name})"
    return TextAnswer(
        text,
        fallback.name,
        prompt,
        sum(counts),
        f"{note}: {CUT_NOTE}" if cut else note,
    )
