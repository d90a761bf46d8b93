"""`CultureChatModel`: manyshores behind LangChain's chat-model interface.

Any LangChain code that takes a chat model can use it (`invoke`, `stream`, `batch`, LCEL). Each
call runs one graph turn over the messages it is given; pass `thread_id` in the model or the
call's `configurable` to keep multi-turn memory in manyshores' checkpoints instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from manyshores.components import Components
from manyshores.graph.builder import compile_graph


class CultureChatModel(BaseChatModel):
    """A chat model whose answers come from the manyshores culture graph."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    components: Any = Field(default_factory=Components)
    """Shared collaborators (base model, detector, experts...), built once."""
    culture: str | None = None
    """Force a culture for every call (else it is detected)."""
    graph: Any = None

    @property
    def _llm_type(self) -> str:
        return "manyshores-culture"

    def _graph(self) -> Any:
        if self.graph is None:
            # Stateless: the caller passes the whole conversation each time, as with any chat model.
            self.graph = compile_graph(self.components)
        return self.graph

    def _run(self, messages: list[BaseMessage], **kwargs: Any) -> dict[str, Any]:
        culture = kwargs.get("culture", self.culture)
        return dict(self._graph().invoke({"messages": messages, "culture_override": culture}))

    def _message(self, state: dict[str, Any]) -> AIMessage:
        posterior = state.get("posterior", {})
        return AIMessage(
            content=state.get("answer", ""),
            response_metadata={
                "cultures": posterior.get("cultures", [])[:3],
                "ambiguous": posterior.get("ambiguous", False),
                "task": state.get("task", {}).get("name"),
                "experts": [e["id"] for e in state.get("experts", [])],
                "option_probs": state.get("option_probs", []),
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
        return ChatResult(generations=[ChatGeneration(message=self._message(state))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # The committee decides on a whole answer, so it streams once aggregation is done:
        # word by word, with the culture metadata on the last chunk.
        state = self._run(messages, **kwargs)
        message = self._message(state)
        words = str(message.content).split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            chunk = AIMessageChunk(
                content=word + ("" if last else " "),
                response_metadata=message.response_metadata if last else {},
            )
            if run_manager:
                run_manager.on_llm_new_token(
                    chunk.content if isinstance(chunk.content, str) else ""
                )
            yield ChatGenerationChunk(message=chunk)
