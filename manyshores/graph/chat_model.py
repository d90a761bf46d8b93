"""`CultureChatModel`: manyshores behind LangChain's chat-model interface.

Any LangChain code that takes a chat model can use it (`invoke`, `stream`, `batch`, LCEL). Each
call runs one graph turn over the messages it is given; pass `thread_id` in the model or the
call's `configurable` to keep multi-turn memory in manyshores' checkpoints instead.

Every message carries `usage_metadata` (the experts' tokens, see `manyshores.graph.usage`) and
the per-expert breakdown in `response_metadata["expert_usage"]`. `with_structured_output` answers
option questions from the option scoring (see `manyshores.graph.option_output`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from pydantic import ConfigDict, Field, model_validator

from manyshores.components import Components
from manyshores.content import content_text
from manyshores.graph.builder import compile_graph
from manyshores.graph.option_output import (
    METHOD,
    check_detected,
    option_schema,
    question_with_options,
)
from manyshores.graph.usage import turn_usage

CALL_KWARGS = ("culture", "structured_options")
"""Per-call arguments `invoke`/`stream`/`batch` accept (`structured_options` is bound by
`with_structured_output`)."""

STRUCTURED_METHODS = (None, METHOD, "json_schema", "function_calling", "json_mode")
"""`method=` values `with_structured_output` accepts: LangChain callers pass the usual ones;
every one is served by option scoring, the only way this model produces structured output."""


def with_max_new_tokens(components: Components, max_new_tokens: int) -> Components:
    """A copy of `components` whose experts generate at most `max_new_tokens`; the loaded parts
    (base model, detector, retriever) are shared, not reloaded."""
    settings = components.settings.model_copy(update={"max_new_tokens": max_new_tokens})
    experts = components.experts
    if getattr(experts, "components", None) is components:
        experts = None  # the default backend reads its settings from its components: rebuild it
    return dataclasses.replace(components, settings=settings, experts=experts)


def cut_at_stop(text: str, stop: list[str] | None) -> str:
    """The text up to the first stop sequence it contains."""
    for s in stop or []:
        if s and s in text:
            text = text[: text.index(s)]
    return text


class CultureChatModel(BaseChatModel):
    """A chat model whose answers come from the manyshores culture graph."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    components: Any = Field(default_factory=Components)
    """Shared collaborators (base model, detector, experts...), built once."""
    culture: str | None = None
    """Force a culture for every call (else it is detected)."""
    graph: Any = None
    """The compiled graph (built on first use)."""
    max_tokens: int | None = None
    """Most tokens each generating expert produces (default: the settings' `max_new_tokens`)."""
    temperature: float | None = None
    """Decoding is greedy, so that answers are reproducible: only None or 0 is accepted."""
    stop: list[str] | None = None
    """Stop sequences: the reply ends before the first one it contains."""

    @model_validator(mode="after")
    def _apply_params(self) -> CultureChatModel:
        if self.temperature not in (None, 0):
            raise ValueError(f"temperature={self.temperature}: decoding is greedy, use None or 0")
        if self.max_tokens is not None:
            if self.max_tokens < 1:
                raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
            if self.components.settings.max_new_tokens != self.max_tokens:
                self.components = with_max_new_tokens(self.components, self.max_tokens)
        return self

    @property
    def _llm_type(self) -> str:
        return "manyshores-culture"

    def base_model_name(self) -> str:
        """The base model the experts run on (the file name of the shipped default)."""
        loaded = self.components.base  # without loading it: tracing must not load a model
        spec = str(loaded.spec if loaded is not None else self.components.settings.base_model)
        if spec != "default":
            return spec
        from manyshores.errors import ModelLoadError
        from manyshores.runtime.base_model import default_gguf_path

        try:
            return default_gguf_path().stem
        except ModelLoadError:
            return spec

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="manyshores",
            ls_model_name=str(kwargs.get("model") or self.base_model_name()),
            ls_model_type="chat",
            ls_temperature=0.0,  # greedy decoding
            ls_max_tokens=self.components.settings.max_new_tokens,
        )
        stop = stop or self.stop
        if stop:
            params["ls_stop"] = stop
        return params

    def _graph(self) -> Any:
        if self.graph is None:
            # Stateless: the caller passes the whole conversation each time, as with any chat model.
            self.graph = compile_graph(self.components)
        return self.graph

    def _run(self, messages: list[BaseMessage], **kwargs: Any) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - set(CALL_KWARGS))
        if unknown:
            raise ValueError(
                f"unsupported call arguments {unknown}; supported: {', '.join(CALL_KWARGS)} "
                "(the base model, max_tokens and temperature are set on the model)"
            )
        culture = kwargs.get("culture", self.culture)
        options: list[str] | None = kwargs.get("structured_options")
        if options:
            messages = _with_options(messages, options)
        state = dict(self._graph().invoke({"messages": messages, "culture_override": culture}))
        if options:
            check_detected(state.get("task", {}).get("options", []), options)
        return state

    def _message(self, state: dict[str, Any], stop: list[str] | None) -> AIMessage:
        posterior = state.get("posterior", {})
        task = state.get("task", {})
        usage, parts = turn_usage(state.get("expert_answers") or [])
        return AIMessage(
            content=cut_at_stop(state.get("answer", ""), stop or self.stop),
            usage_metadata=usage,
            response_metadata={
                "model_name": self.base_model_name(),
                "cultures": posterior.get("cultures", [])[:3],
                "ambiguous": posterior.get("ambiguous", False),
                "task": task.get("name"),
                "experts": [e["id"] for e in state.get("experts", [])],
                "options": task.get("options", []),
                "option_probs": state.get("option_probs", []),
                "choice": state.get("choice"),
                "expert_usage": parts,
            },
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        state = self._run(messages, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=self._message(state, stop))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # The committee decides on a whole answer, so it streams once aggregation is done:
        # word by word, with the culture metadata and the token usage on the last chunk only
        # (chunks are summed by whoever aggregates the stream).
        state = self._run(messages, **kwargs)
        message = self._message(state, stop)
        words = str(message.content).split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            chunk = AIMessageChunk(
                content=word + ("" if last else " "),
                response_metadata=message.response_metadata if last else {},
                usage_metadata=message.usage_metadata if last else None,
            )
            if run_manager:
                run_manager.on_llm_new_token(
                    chunk.content if isinstance(chunk.content, str) else ""
                )
            yield ChatGenerationChunk(message=chunk)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[Any, Any]:
        """Answer an option question into `schema`: its one enum field gets the chosen option,
        its `dict[str, float]` field (if any) the distribution over the options.

        The options come from the enum and are scored (never parsed from generated text); any
        other schema raises `InvalidInputError`. `method` and `strict` are accepted for
        compatibility and change nothing.
        """
        method = kwargs.pop("method", None)
        kwargs.pop("strict", None)
        if method not in STRUCTURED_METHODS:
            raise ValueError(f"unknown method {method!r}; this model scores options ({METHOD})")
        if kwargs:
            raise ValueError(f"unsupported arguments {sorted(kwargs)}")
        spec = option_schema(schema)
        llm = self.bind(
            structured_options=spec.options,
            ls_structured_output_format={"kwargs": {"method": METHOD}, "schema": schema},
        )
        parser = RunnableLambda(spec.parse)
        if include_raw:
            parsed = RunnablePassthrough.assign(
                parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
            )
            fallback = RunnablePassthrough.assign(parsed=lambda _: None)
            return RunnableMap(raw=llm) | parsed.with_fallbacks(
                [fallback], exception_key="parsing_error"
            )
        return llm | parser


def _with_options(messages: list[BaseMessage], options: list[str]) -> list[BaseMessage]:
    """The messages with the options listed under the newest user question."""
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].type == "human":
            text = question_with_options(content_text(out[i].content), options)
            out[i] = out[i].model_copy(update={"content": text})
            break
    return out
