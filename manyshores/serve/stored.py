"""A request stored once: a retried request is answered from the turn its first try stored.

A request may carry an id (`metadata.request_id`, or the `Idempotency-Key` header). Its user
message is then stored under an id made from it, in the same checkpoint write as the message
itself, so there is no separate record that could disagree with the thread. When a request with
that id arrives again (the client timed out, the replica it reached was killed, the balancer
retried it), the thread is searched for the message:

- found and answered: the stored turn is the response (nothing runs again);
- found and unanswered (the first try was cut off mid-turn): the turn is completed, then sent;
- not found (the first try never got as far as storing its message): it runs as a new turn.

The caller holds the thread's lock, so a first try still running anywhere finishes before its
retry looks.
"""

from __future__ import annotations

from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.graph.assistant import CultureAssistant, TurnResult
from manyshores.serve.tenants import request_hash

MAX_REQUEST_ID = 200
"""Longest request id accepted (it is hashed, so only its bytes matter)."""


class RequestConflictError(InvalidInputError):
    """A request id already stored a different message in this thread."""


def message_id(thread_id: str, request_id: str) -> str:
    """The stored id of the user message of request `request_id` in (stored) thread `thread_id`."""
    return "request-" + request_hash(thread_id, request_id)


def _position(messages: list[Any], mid: str) -> int | None:
    return next((i for i, m in enumerate(messages) if getattr(m, "id", None) == mid), None)


def _answered(messages: list[Any], i: int) -> bool:
    return i + 1 < len(messages) and messages[i + 1].type == "ai"


def find_turn(
    assistant: CultureAssistant, thread_id: str, mid: str, text: str
) -> TurnResult | None:
    """The stored turn whose user message has id `mid`, completed first if it was cut off;
    None when no such message is stored. Raises RequestConflictError when the stored message
    is not `text` (one request id reused for another message)."""
    config = {"configurable": {"thread_id": thread_id}}
    snap = assistant.graph.get_state(config)
    messages = list((snap.values or {}).get("messages", []))
    i = _position(messages, mid)
    if i is None:
        return None
    if messages[i].content != text:
        raise RequestConflictError(
            "this request id was already used for another message in this thread: "
            "send a new request id for a new message"
        )
    if not _answered(messages, i):
        # The first try stored its message and was cut off: complete that turn now.
        assistant.finish_pending(thread_id)
        snap = assistant.graph.get_state(config)
        messages = list((snap.values or {}).get("messages", []))
    if not _answered(messages, i):
        raise InvalidInputError(
            "this request's message is stored but its turn could not be completed: "
            "read the thread (GET /v1/threads/{id}) before sending it again"
        )
    if i + 2 == len(messages) and not snap.next:
        return TurnResult(thread_id=thread_id, values=dict(snap.values))
    # Later turns followed: the state as this turn left it is an older checkpoint.
    for past in assistant.graph.get_state_history(config):
        old = list((past.values or {}).get("messages", []))
        if len(old) == i + 2 and not past.next and _position(old, mid) == i:
            return TurnResult(thread_id=thread_id, values=dict(past.values))
    return TurnResult(
        thread_id=thread_id, values={**snap.values, "answer": messages[i + 1].content}
    )
