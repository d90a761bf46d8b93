"""The conversation as detection reads it: user and assistant texts, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from manyshores.content import content_text

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}


@dataclass(frozen=True)
class Message:
    """One message's role and text."""

    role: str
    """`user` or `assistant`."""
    text: str
    """Its plain text."""


def messages_of(messages: Sequence[Any] | str) -> list[Message]:
    """langchain messages or role/content dicts -> user/assistant texts (others dropped)."""
    if isinstance(messages, str):
        return [Message("user", messages)]
    out = []
    for m in messages:
        if isinstance(m, dict):
            role, content = m.get("role", "user"), m.get("content", "")
        else:
            role, content = getattr(m, "type", "user"), getattr(m, "content", "")
        role = _ROLES.get(str(role))
        if role is not None:
            out.append(Message(role, content_text(content)))
    return out


def by_distance(messages: list[Message], max_turns: int) -> list[tuple[int, Message]]:
    """(turns back from the last user message, message), newest first."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    if last_user < 0:
        return []
    out: list[tuple[int, Message]] = []
    distance = 0
    for m in reversed(messages[: last_user + 1]):
        if m.role == "user" and out:
            distance += 1
        if distance > max_turns:
            break
        # An assistant reply belongs to the exchange of the user turn before it.
        out.append((distance + (1 if m.role == "assistant" else 0), m))
    return out
