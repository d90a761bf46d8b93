"""Any LangChain chat model as a text runtime: a bigger model for the free-text path.

`MANYSHORES_CHAT_MODEL=provider:model` (LangChain's `init_chat_model`: `openai:gpt-4o-mini`,
`anthropic:...`, `ollama:...`, or `openai:<name>` of an OpenAI-compatible server such as vLLM,
Ollama or llama-server with `MANYSHORES_CHAT_MODEL_BASE_URL`) makes `ChatModelText` the plain
generation runtime: grounded replies (`components.chat_experts`), persona experts and the
general answer are written by that model, and `invoke` serves whole answers such as option
probabilities (`runtime.chat_options`). Soft prompts and LoRA experts need the base model's
weights, so they stay on the in-process or vLLM engine.

`build_chat_model` is the one place a chat model is made from a spec (the synthesis teacher uses
it too), with errors that say what to install or set. At call time the model is read on a
worker thread, so a silent endpoint costs at most `chat_model_timeout_s`; any failure raises
`TextRuntimeError` naming the base model's runtime as the fallback, and for `retry_after_s` the
chat model is not asked again (a dead endpoint costs one timeout, not one per turn).
"""

from __future__ import annotations

import contextvars
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError
from manyshores.runtime.text import TextRuntime, TextRuntimeError

if TYPE_CHECKING:
    from manyshores.config import Settings

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "pip install 'manyshores[chat]' (langchain and langchain-openai, which also serves any "
    "OpenAI-compatible endpoint), or langchain and the provider's package"
)

FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason", "done")
"""Where chat classes put why an answer ended (OpenAI-style, Anthropic, Ollama): a stream
that ends with none of them was cut."""

_OWN_LIMITS = frozenset({"ollama"})
"""Providers whose chat class names the token cap and timeout its own way (`num_predict`,
`client_kwargs`); the others take LangChain's standard `max_tokens`, `timeout`, `max_retries`."""


def build_chat_model(
    spec: str,
    *,
    temperature: float,
    max_tokens: int | None = None,
    timeout_s: float | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    setting: str = "chat_model",
) -> Any:
    """A LangChain `BaseChatModel` for `spec` (`provider:model`). Raises `InvalidInputError`
    naming `setting` when langchain or the provider's package is missing, the provider is
    unknown, or the provider refuses the configuration (e.g. no API key)."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise InvalidInputError(
            f"{setting}={spec!r} needs the `langchain` package: {INSTALL_HINT}"
        ) from exc
    provider = spec.partition(":")[0] if ":" in spec else ""
    kwargs: dict[str, Any] = {"temperature": temperature}
    if provider in _OWN_LIMITS:
        if max_tokens is not None:
            kwargs["num_predict"] = max_tokens
        if timeout_s is not None:
            kwargs["client_kwargs"] = {"timeout": timeout_s}
    else:
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if timeout_s is not None:
            # No retries: a failed answer continues on the base model at once (the caller's
            # fallback is the retry), instead of waiting out the client's backoff.
            kwargs["timeout"], kwargs["max_retries"] = timeout_s, 0
    if provider == "openai":
        kwargs["stream_usage"] = True  # token counts in the stream's last chunk
        if base_url and not api_key and not _env_key():
            api_key = "unused"  # a local OpenAI-compatible server checks no key
    if base_url:
        kwargs["base_url"] = base_url
    if api_key:
        kwargs["api_key"] = api_key
    try:
        return init_chat_model(spec, **kwargs)
    except ImportError as exc:
        raise InvalidInputError(f"{setting}={spec!r}: {exc} ({INSTALL_HINT})") from exc
    except ValueError as exc:
        first = str(exc).strip().split("\n")[0]
        raise InvalidInputError(f"{setting}={spec!r} is not usable: {first}") from exc
    except Exception as exc:  # the provider's own validation (a missing key, a bad URL)
        raise InvalidInputError(f"{setting}={spec!r} could not be set up: {exc}") from exc


def _env_key() -> bool:
    import os

    return bool(os.environ.get("OPENAI_API_KEY"))


def _text(content: Any) -> str:
    """A message's text (multi-part content: its text parts)."""
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")


class ChatModelText:
    """`TextRuntime` over a LangChain chat model (see the module docstring)."""

    def __init__(
        self,
        model: Any,
        spec: str,
        timeout_s: float,
        fallback: Callable[[], TextRuntime] | None = None,
        max_tokens: int | None = None,
        retry_after_s: float = 30.0,
    ) -> None:
        self.model = model
        """The LangChain chat model (anything with `.stream(messages, **kwargs)`)."""
        self.spec = spec
        """`provider:model`, for notes."""
        self.name = f"chat_model:{spec}"
        """Shown with each answer it generates (`ExpertAnswer.runtime`, `text_runtime`)."""
        self.timeout_s = timeout_s
        """Longest silence within one answer before it counts as failed."""
        self.max_tokens = max_tokens
        """The cap the model was built with; a call asking for another passes its own."""
        self.retry_after_s = retry_after_s
        """After a failure, how long answers go straight to the fallback."""
        self._fallback = fallback
        self._fallback_runtime: TextRuntime | None = None
        self._fallback_lock = threading.Lock()
        self._down_until = 0.0
        self._down_why = ""
        self._usage = threading.local()  # the last answer's prompt tokens, per thread

    @classmethod
    def from_settings(
        cls, settings: Settings, fallback: Callable[[], TextRuntime] | None = None
    ) -> ChatModelText:
        spec = settings.chat_model
        if not spec:
            raise InvalidInputError("chat_model is not set")
        key = settings.chat_model_api_key
        model = build_chat_model(
            spec,
            temperature=0.0,  # greedy, like the base model's answers
            max_tokens=settings.max_new_tokens,
            # The reading thread's watchdog says when the endpoint went silent; the provider's
            # own timeout, later, only ends the thread left waiting (no race between the two).
            timeout_s=2 * settings.chat_model_timeout_s,
            base_url=settings.chat_model_base_url,
            api_key=key.get_secret_value() if key is not None else None,
        )
        return cls(model, spec, settings.chat_model_timeout_s, fallback, settings.max_new_tokens)

    def fallback(self) -> TextRuntime | None:
        """The base model's runtime, built on first need."""
        with self._fallback_lock:
            if self._fallback_runtime is None and self._fallback is not None:
                self._fallback_runtime = self._fallback()
            return self._fallback_runtime

    def _failed(self, why: str) -> TextRuntimeError:
        self._down_until = time.monotonic() + self.retry_after_s
        self._down_why = why
        return TextRuntimeError(f"the chat model {self.spec} failed ({why})", self.fallback())

    def stream(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int,
        counts: list[int] | None = None,
    ) -> Iterator[str]:
        """The model's answer piece by piece; raises `TextRuntimeError` when it fails."""
        self._usage.of, self._usage.tokens = None, None
        self.check_up()
        pieces = 0
        usage: dict[str, Any] | None = None
        finished = False
        for chunk in self._chunks(messages, max_new_tokens):
            usage = getattr(chunk, "usage_metadata", None) or usage
            meta = getattr(chunk, "response_metadata", None) or {}
            finished = finished or any(meta.get(k) for k in FINISH_KEYS)
            piece = _text(getattr(chunk, "content", chunk))
            if piece:
                pieces += 1
                yield piece
        if not finished and not (budget_cut()):
            # OpenAI's client ends a stream the server closed early as if it were whole; only
            # the missing finish reason tells a cut answer from a short one.
            raise self._failed("the stream ended before the answer did (no finish reason)")
        if usage:
            self._usage.of, self._usage.tokens = messages, int(usage.get("input_tokens") or 0)
        if counts is not None:
            # Servers send about one token per chunk; the count they report wins.
            counts.append(int(usage.get("output_tokens") or pieces) if usage else pieces)

    def _chunks(self, messages: list[dict[str, str]], max_new_tokens: int) -> Iterator[Any]:
        """The model's stream, read on a worker thread so that silence has a limit: the
        timeout, or the turn's time budget (which stops the answer with what it has)."""
        from manyshores.budget import current

        budget = current()
        lc_messages = [(m["role"], m["content"]) for m in messages]
        kwargs: dict[str, Any] = {}
        if max_new_tokens != self.max_tokens:
            kwargs["max_tokens"] = max_new_tokens
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()

        def pump() -> None:
            try:
                for chunk in self.model.stream(lc_messages, **kwargs):
                    if stop.is_set():
                        return
                    events.put(("chunk", chunk))
                events.put(("end", None))
            except BaseException as exc:  # handed to the reading thread
                events.put(("error", exc))

        _on_worker(pump)
        try:
            while True:
                try:
                    kind, item = events.get(timeout=self._wait(budget))
                except queue.Empty:
                    if budget is not None and budget.spent():
                        return  # the turn's time is spent: the answer ends here (noted)
                    raise self._failed(f"sent nothing for {self.timeout_s:g} s") from None
                if kind == "end":
                    return
                if kind == "error":
                    raise self._failed(_why(item)) from item
                yield item
        finally:
            stop.set()

    def _wait(self, budget: Any) -> float:
        """How long to wait for the model's next word: the timeout, or what is left of the
        turn's time budget when that is less."""
        if budget is None:
            return self.timeout_s
        return min(self.timeout_s, max(0.0, budget.deadline - time.monotonic()))

    @property
    def provider(self) -> str:
        """The spec's provider (`openai` for any OpenAI-compatible server)."""
        return self.spec.partition(":")[0]

    def check_up(self) -> None:
        """Raise `TextRuntimeError` when the model failed within `retry_after_s` (it is not
        asked again until then)."""
        if time.monotonic() < self._down_until:
            raise TextRuntimeError(
                f"the chat model {self.spec} failed recently ({self._down_why}); not asked "
                f"again for {self.retry_after_s:g} s",
                self.fallback(),
            )

    def invoke(
        self,
        messages: list[dict[str, str]],
        *,
        refused: type[Exception] | None = None,
        **params: Any,
    ) -> Any:
        """One whole (not streamed) answer, the request's own `params` (`max_tokens`,
        `logprobs`, `temperature`...) added to the model's; read on a worker thread, so silence
        past `timeout_s` (or the turn's time budget) raises `TextRuntimeError` as `stream` does.

        `refused`: an exception class the caller handles itself (a server that rejects a
        parameter, say); it is raised as it is and does not mark the model down."""
        from manyshores.budget import current

        self.check_up()
        budget = current()
        lc_messages = [(m["role"], m["content"]) for m in messages]
        events: queue.Queue[tuple[str, Any]] = queue.Queue()

        def call() -> None:
            try:
                events.put(("done", self.model.invoke(lc_messages, **params)))
            except BaseException as exc:  # handed to the calling thread
                events.put(("error", exc))

        _on_worker(call)
        try:
            kind, item = events.get(timeout=self._wait(budget))
        except queue.Empty:
            if budget is not None and budget.spent():
                raise TextRuntimeError(
                    f"the turn's time budget ran out while the chat model {self.spec} answered",
                    self.fallback(),
                ) from None
            raise self._failed(f"sent nothing for {self.timeout_s:g} s") from None
        if kind == "error":
            if refused is not None and isinstance(item, refused):
                raise item
            raise self._failed(_why(item)) from item
        return item

    def prompt_tokens(self, messages: list[dict[str, str]], reserve: int = 0) -> int:
        """The prompt tokens the model reported for its last answer to these `messages` on
        this thread; otherwise an estimate (about four characters a token, a few per message:
        the provider's tokenizer is not at hand, and fetching one needs the network)."""
        if getattr(self._usage, "of", None) is messages and self._usage.tokens:
            return int(self._usage.tokens)
        chars = sum(len(m["content"]) for m in messages)
        return math.ceil(chars / 4) + 4 * len(messages)


def _on_worker(work: Callable[[], None]) -> None:
    """Run `work` on a daemon thread in a copy of this context (LangChain callbacks read context
    variables). The provider's own timeout ends a thread left waiting; it holds no lock."""
    context = contextvars.copy_context()
    threading.Thread(
        target=context.run, args=(work,), daemon=True, name="manyshores-chat-model"
    ).start()


def budget_cut() -> bool:
    """True when the turn's time budget stopped the answer (it ends early on purpose)."""
    from manyshores.budget import current

    budget = current()
    return budget is not None and budget.cut


def _why(exc: BaseException) -> str:
    """One line saying what went wrong, without the provider's multi-line dumps."""
    text = str(exc).strip().split("\n")[0][:200] or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
