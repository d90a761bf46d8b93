"""Small helpers shared by the nodes: reading the user's message and the conversation."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AnyMessage, BaseMessage

from manyshores.content import check_message_text, content_text
from manyshores.errors import InvalidInputError


def message_text(message: AnyMessage | BaseMessage) -> str:
    """Plain text of a message whose content may be a string or a list of content blocks."""
    return content_text(message.content)


def truncate_message(text: str, limit: int) -> tuple[str, str | None]:
    """Keep head and tail of an over-long message (questions often end with their options)."""
    if len(text) <= limit:
        return text, None
    head = limit * 3 // 4
    tail = limit - head
    kept = f"{text[:head]}\n[…]\n{text[-tail:]}"
    note = f"message of {len(text):,} characters truncated to its first {head:,} and last {tail:,}"
    return kept, note


def capped_messages(messages: list[AnyMessage], limit: int) -> list[AnyMessage]:
    """The messages with over-long contents truncated (copies; the state keeps the originals)."""
    out: list[AnyMessage] = []
    for m in messages:
        text = message_text(m)
        out.append(
            m
            if len(text) <= limit
            else m.model_copy(update={"content": truncate_message(text, limit)[0]})
        )
    return out


def last_user_text(messages: list[AnyMessage]) -> str:
    """The newest human message: what this turn answers."""
    for message in reversed(messages):
        if message.type == "human":
            return check_message_text(message_text(message))
    raise InvalidInputError("no user message to answer")


def conversation(
    messages: list[AnyMessage], limit: int, keep_turns: int = 6
) -> list[dict[str, str]]:
    """Recent turns as role/content dicts for chat templates (each message capped at `limit`)."""
    roles = {"human": "user", "ai": "assistant", "system": "system"}
    out = [
        {"role": roles[m.type], "content": truncate_message(message_text(m), limit)[0]}
        for m in messages
        if m.type in roles
    ]
    return out[-(2 * keep_turns - 1) :]


MIN_REPLY_LANGUAGE_CONFIDENCE = 0.3
"""The identifier's confidence a message's language needs to become the reply's language;
below it the thread's language carries on. (Lower than `general_answer`'s bar for dropping an
answer written in another language: a wrong guess here costs one reply's language, which the
next message sets again; there it costs the answer.)"""


def reply_language(detector: Any, text: str, previous: str | None) -> str:
    """The language to answer in: the message's own, else the thread's so far, else English."""
    found = detector.language_of(text)
    if found is not None and found[1] >= MIN_REPLY_LANGUAGE_CONFIDENCE:
        return str(found[0])
    return previous or "en"
