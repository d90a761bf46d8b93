"""OpenAI's chat-completions wire format: the request we accept and the objects we send back.

The standard fields are exactly OpenAI's, so unmodified clients (the `openai` package,
LangChain's `ChatOpenAI`) work; what manyshores adds rides in one top-level `manyshores` object
(the `ask --json` keys), which such clients ignore or expose as an extra field.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from manyshores.errors import InvalidInputError
from manyshores.serve.tenants import quote


class ChatMessage(BaseModel):
    """One message of the request; content is a string or OpenAI's list of parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields of `POST /v1/chat/completions` that mean something here; others are ignored
    (sampling parameters do not apply to option scoring and culture experts)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None
    """Long-term profile user id."""
    metadata: dict[str, Any] | None = None
    """`thread_id` continues a conversation; `culture` forces the culture of this turn;
    `request_id` makes a retry of this request return its stored turn."""
    stream_options: dict[str, Any] | None = None


def parse_request(body: bytes) -> ChatRequest:
    """The request, or InvalidInputError naming what is wrong."""
    try:
        return ChatRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidInputError(f"invalid request: {where}: {first.get('msg')}") from exc


def message_text(message: ChatMessage) -> str:
    """The text of a message (text parts joined); other part types are refused."""
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.get("type") != "text":
            raise InvalidInputError(
                f"message content part of type {quote(part.get('type'))} is not supported: "
                "text only"
            )
        texts.append(str(part.get("text", "")))
    return "".join(texts)


def turn_text(request: ChatRequest) -> str:
    """The new turn: the last message, which must be the user's.

    Earlier messages are the client's copy of the conversation; the server's copy lives in the
    thread's checkpoints, which hold what the graph actually saw and answered.
    """
    last = request.messages[-1]
    if last.role != "user":
        raise InvalidInputError(f"the last message must have role 'user', not {quote(last.role)}")
    return message_text(last)


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion(
    cid: str, model: str, answer: str, extra: dict[str, Any], usage_: dict[str, int]
) -> dict[str, Any]:
    """A `chat.completion` object."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage_,
        "manyshores": extra,
    }


def chunk(
    cid: str,
    model: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: Literal["stop"] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `chat.completion.chunk` object."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        **extra,
    }


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope (clients raise typed errors from it)."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
