"""The teacher: any LangChain chat model, or the local base model by default.

`Teacher.complete(messages)` takes OpenAI-style `{"role", "content"}` messages and returns text.
`teacher_from_settings` builds one from `Settings.teacher_model`:

- None / `"base"`: the local base model through `generate_text` (greedy, offline);
- `"provider:model"` (e.g. `"openai:gpt-4o-mini"`): LangChain's `init_chat_model`, which needs
  the `langchain` package and that provider's integration installed (and the network);
- a `BaseChatModel` instance can be wrapped directly with `ChatModelTeacher` (tests pass a
  scripted `FakeListChatModel` this way).

`teacher_messages` writes the request: one passage, the target format's JSON shape, and the rule
that the answer and the quoted evidence must come from the passage (what the grounding check
verifies afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from manyshores.errors import InvalidInputError

if TYPE_CHECKING:
    from manyshores.config import Settings
    from manyshores.runtime.base_model import BaseModel

FORMAT_SPECS: dict[str, str] = {
    # Descriptions in angle brackets, not sample values: the base model copied "a short phrase"
    # and "quote" as the answer in most replies; with these it wrote real answers (8/8 vs 4/8).
    "short_answer": (
        '{"question": "<a question the passage answers>", '
        '"answer": "<the answer, a few words copied from the passage>", '
        '"evidence": "<the sentence of the passage that gives the answer>"}'
    ),
    "multiple_choice": (
        '{"question": "...", "options": ["...", "...", "...", "..."], '
        '"answer": "the correct option, copied exactly", "evidence": "quote"}'
    ),
    "classification": (
        '{"statement": "a claim about the culture", "label": "true or false", "evidence": "quote"}'
    ),
    "survey": (
        '{"question": "...", "options": ["options on an ordered scale"], '
        '"answer": "the option most people of the culture would choose", "evidence": "quote"}'
    ),
}
"""The JSON object the teacher must return for each format."""


class Teacher(Protocol):
    """Writes one example from a request."""

    name: str
    """Recorded in every example's provenance."""

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The teacher's reply text."""
        ...


@dataclass
class ChatModelTeacher:
    """A LangChain chat model as the teacher."""

    model: Any
    """A `langchain_core` `BaseChatModel` (anything with `.invoke(messages)`)."""
    name: str = ""
    """Provenance name; defaults to the model's type."""

    def __post_init__(self) -> None:
        if not self.name:
            llm_type = getattr(self.model, "_llm_type", None)
            self.name = f"langchain:{llm_type or type(self.model).__name__}"

    def complete(self, messages: list[dict[str, str]]) -> str:
        reply = self.model.invoke([(m["role"], m["content"]) for m in messages])
        content = getattr(reply, "content", reply)
        if isinstance(content, list):  # multi-part content: keep the text parts
            content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
        return str(content)


@dataclass
class BaseModelTeacher:
    """The local base model as the teacher (greedy generation).

    Small models rarely start a JSON object on request, so the reply is *prefilled* with the
    object's opening (`{"`) and the model only continues it. Generation stops at the first `}`
    (the formats' objects hold no nested object), and `complete_batch` writes several replies
    in one left-padded pass — both measured faster on CPU with the same greedy replies.
    """

    base: BaseModel
    """The shared base model."""
    max_new_tokens: int = 160
    """Room for one JSON example."""
    prefill: str = '{"'
    """Text the assistant turn starts with (returned as part of the reply)."""
    stop_at_close: bool = True
    """Stop a reply once it has written `}` (the end of the one object asked for)."""
    name: str = field(default="")
    """Provenance name; defaults to `base:<spec>`."""

    def __post_init__(self) -> None:
        self.name = self.name or f"base:{self.base.spec}"

    def complete(self, messages: list[dict[str, str]]) -> str:
        return self.complete_batch([messages])[0]

    def complete_batch(self, batch: list[list[dict[str, str]]]) -> list[str]:
        """Replies to several requests in one greedy, left-padded `generate` call."""
        from manyshores.runtime.generation import generate_batch

        texts = generate_batch(
            self.base,
            batch,
            self.max_new_tokens,
            prefill=self.prefill,
            stop_strings=["}"] if self.stop_at_close else None,
        )
        return [self.prefill + t for t in texts]


def teacher_from_settings(
    settings: Settings, load_base: Callable[[], BaseModel] | None = None
) -> Teacher:
    """The teacher named by `settings.teacher_model` (the base model when unset)."""
    spec = (settings.teacher_model or "").strip()
    if not spec or spec == "base":
        if load_base is None:
            from manyshores.runtime.base_model import load_base_model

            return BaseModelTeacher(load_base_model(settings=settings))
        return BaseModelTeacher(load_base())
    from manyshores.runtime.chat_text import build_chat_model

    return ChatModelTeacher(
        build_chat_model(spec, temperature=0.7, setting="teacher_model"), name=spec
    )


def teacher_messages(
    fmt: str, culture_name: str, task: str, passage: str, query: str
) -> list[dict[str, str]]:
    """The request for one example of `fmt` about `culture_name`, grounded in `passage`."""
    if fmt not in FORMAT_SPECS:
        raise InvalidInputError(f"unknown format {fmt!r}; use one of {', '.join(FORMAT_SPECS)}")
    system = (
        "You write training data about everyday culture. Use only facts stated in the passage. "
        "Reply with one JSON object and nothing else."
    )
    user = (
        f"Culture: {culture_name}\nTask: {task.replace('_', ' ')}\nSearch topic: {query}\n"
        f'Passage:\n"""\n{passage}\n"""\n\n'
        f"Write one {fmt.replace('_', ' ')} example about {culture_name} that the passage "
        f'answers. Copy the sentence that supports the answer into "evidence" word for word.\n'
        f"JSON shape: {FORMAT_SPECS[fmt]}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
