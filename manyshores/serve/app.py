"""The FastAPI app: OpenAI's chat-completions API over one warm `CultureAssistant`.

    POST /v1/chat/completions   stream or not; `metadata.thread_id` (or the X-Manyshores-Thread
                                header) continues a conversation, `user` names the profile,
                                `metadata.request_id` (or Idempotency-Key) makes a retry safe
    GET  /v1/models             the one model served
    GET  /v1/threads/{id}       the thread's stored messages (what `bench serve` checks)
    GET  /healthz               liveness and queue depth (no key needed); 503 while draining

Order of checks on a completion: draining (503), API key (401), body size (413), request shape
(400), queue room (429) — all before any model work. A key belongs to a tenant, whose thread
ids and profiles are its own (`serve.tenants`).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

import manyshores.serve.protocol as protocol
from manyshores.errors import CheckpointStoreError, InvalidInputError, ManyshoresError
from manyshores.graph.assistant import CultureAssistant
from manyshores.memory.postgres import is_outage, is_postgres_url, outage_error
from manyshores.serve.config import (
    IDEMPOTENCY_HEADER,
    REPLICA_HEADER,
    THREAD_HEADER,
    ServeConfig,
)
from manyshores.serve.locks import ThreadLocks
from manyshores.serve.runner import (
    Finished,
    QueueFullError,
    Token,
    TurnRequest,
    TurnRunner,
    TurnTimeoutError,
)
from manyshores.serve.stored import MAX_REQUEST_ID, RequestConflictError, message_id
from manyshores.serve.tenants import Caller, key_tenants, quote, request_hash

log = logging.getLogger("manyshores.serve")

MAX_ERROR_CHARS = 400
"""Error messages are cut to this length: whatever they quote, a client gets a short line."""
MAX_CULTURE_CHARS = 100
MAX_USER_CHARS = 200


class HTTPError(Exception):
    """An error answered with an OpenAI error body and the given status."""

    def __init__(
        self, status: int, message: str, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.headers = headers or {}


def _short(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 3] + "..."


def _as_http(exc: BaseException, settings_url: str | None) -> HTTPError:
    """Map a turn's failure to a status and a message a client can act on."""
    if isinstance(exc, HTTPError):
        return exc
    if isinstance(exc, QueueFullError):
        return HTTPError(
            429, str(exc), "rate_limit_exceeded", {"Retry-After": str(exc.retry_after_s)}
        )
    if isinstance(exc, TurnTimeoutError):
        return HTTPError(504, str(exc), "timeout")
    if isinstance(exc, RequestConflictError):
        return HTTPError(409, str(exc), "invalid_request_error")
    if isinstance(exc, InvalidInputError):
        return HTTPError(400, _short(str(exc)), "invalid_request_error")
    if is_outage(exc):
        exc = outage_error(exc, settings_url)
    if isinstance(exc, CheckpointStoreError):
        return HTTPError(503, _short(str(exc)), "service_unavailable", {"Retry-After": "5"})
    if isinstance(exc, ManyshoresError):
        return HTTPError(500, _short(str(exc)), "server_error")
    log.exception("unexpected error in a turn", exc_info=exc)
    return HTTPError(500, _short(f"internal error: {type(exc).__name__}: {exc}"), "server_error")


def _error_response(err: HTTPError, extra: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        protocol.error_body(str(err), err.kind),
        status_code=err.status,
        headers={**err.headers, **(extra or {})},
    )


def create_app(assistant: CultureAssistant, config: ServeConfig | None = None) -> FastAPI:
    """The HTTP app over a built assistant (its base model loads on the first turn unless
    the caller warmed it)."""
    config = config or ServeConfig()
    try:
        tenants = key_tenants(config.api_keys)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    db_url = assistant.components.settings.checkpoint_url
    backend = "postgres" if db_url else "sqlite"
    # Replicas on one PostgreSQL share each conversation's lock there; SQLite serves one.
    locks = ThreadLocks(db_url if db_url and is_postgres_url(db_url) else None)
    runner = TurnRunner(assistant, config.max_queue, config.workers, locks)
    draining = threading.Event()
    replica = {REPLICA_HEADER: config.replica}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        runner.shutdown()

    app = FastAPI(title="manyshores", lifespan=lifespan)
    app.state.runner = runner
    app.state.config = config
    app.state.draining = draining
    """Set on SIGTERM (`serve.process`): health checks fail, new turns are refused."""

    @app.exception_handler(HTTPError)
    async def on_http_error(request: Request, exc: HTTPError) -> JSONResponse:
        return _error_response(exc, replica)

    def authorize(request: Request) -> Caller:
        if not tenants:
            return Caller()
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        found = None
        if scheme.lower() == "bearer":
            # Every key compared (no early exit): the time taken says nothing about which
            # key was close.
            for key, tenant in tenants.items():
                if hmac.compare_digest(token.strip().encode(), key.encode()):
                    found = tenant
        if found is None:
            raise HTTPError(
                401,
                "missing or invalid API key: send 'Authorization: Bearer <key>'",
                "invalid_api_key",
                {"WWW-Authenticate": "Bearer"},
            )
        return Caller(found)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        too_big = HTTPError(
            413,
            f"request body over {config.max_body_bytes} bytes",
            "invalid_request_error",
        )
        if declared and declared.isdigit() and int(declared) > config.max_body_bytes:
            raise too_big
        body = bytearray()
        async for piece in request.stream():  # a chunked body has no declared length
            body += piece
            if len(body) > config.max_body_bytes:
                raise too_big
        return bytes(body)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        status = "draining" if draining.is_set() else "ok"
        body = {
            "status": status,
            "model": config.model_name,
            "backend": backend,
            "replica": config.replica,
            "pending": runner.pending,
            "max_queue": config.max_queue,
        }
        # 503 while draining: the balancer stops sending new requests here at once.
        return JSONResponse(body, status_code=503 if draining.is_set() else 200, headers=replica)

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        authorize(request)
        return {
            "object": "list",
            "data": [
                {"id": config.model_name, "object": "model", "created": 0, "owned_by": "manyshores"}
            ],
        }

    @app.get("/v1/threads/{thread_id}")
    async def thread(thread_id: str, request: Request) -> JSONResponse:
        caller = authorize(request)
        try:
            thread_id = _thread_id(thread_id, caller)
            stored = caller.thread(thread_id)
            values = await runner.call(
                _thread_values,
                assistant,
                stored,
                thread_id=stored,
                timeout_s=config.request_timeout_s,
            )
        except Exception as exc:
            raise _as_http(exc, db_url) from exc
        if values is None:
            raise HTTPError(404, f"no thread {quote(thread_id)}", "not_found")
        return JSONResponse({**values, "thread_id": thread_id}, headers=replica)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        if draining.is_set():
            raise HTTPError(
                503,
                f"replica {config.replica} is shutting down: send the request again "
                "(another replica answers it)",
                "service_unavailable",
                {"Retry-After": "1"},
            )
        caller = authorize(request)
        body = await read_body(request)
        try:
            chat = protocol.parse_request(body)
            turn, client_thread = _turn_request(chat, request, caller)
            events = runner.start(turn, config.request_timeout_s)
        except Exception as exc:
            raise _as_http(exc, db_url) from exc
        cid = protocol.completion_id()
        model = chat.model or config.model_name
        headers = {THREAD_HEADER: client_thread, **replica}
        if chat.stream:
            include_usage = bool((chat.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                _sse(events, cid, model, include_usage, db_url, client_thread),
                media_type="text/event-stream",
                headers={**headers, "Cache-Control": "no-cache"},
            )
        try:
            finished = None
            async for item in events:
                if isinstance(item, Finished):
                    finished = item
        except Exception as exc:
            raise _as_http(exc, db_url) from exc
        assert finished is not None
        result = finished.result
        return JSONResponse(
            protocol.completion(
                cid,
                model,
                result.answer,
                _extra(finished, client_thread),
                protocol.usage(finished.prompt_tokens, finished.completion_tokens),
            ),
            headers=headers,
        )

    return app


def _thread_id(value: object, caller: Caller) -> str:
    """The client's thread id, checked; errors quote only its first characters."""
    text = str(value)
    limit = caller.max_thread_id
    if not text or len(text) > limit or not text.isprintable():
        raise InvalidInputError(f"invalid thread id {quote(text)}: 1-{limit} printable characters")
    return text


def _request_id(chat: protocol.ChatRequest, request: Request) -> str | None:
    value = (chat.metadata or {}).get("request_id") or request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    text = str(value)
    if not text.strip() or len(text) > MAX_REQUEST_ID or not text.isprintable():
        raise InvalidInputError(
            f"invalid request id {quote(text)}: 1-{MAX_REQUEST_ID} printable characters"
        )
    return text


def _turn_request(
    chat: protocol.ChatRequest, request: Request, caller: Caller
) -> tuple[TurnRequest, str]:
    """The turn to run, and the thread id the client knows it by."""
    from manyshores.content import check_message_text

    text = check_message_text(protocol.turn_text(chat))  # refused before it takes a queue place
    metadata = chat.metadata or {}
    request_id = _request_id(chat, request)
    given = metadata.get("thread_id") or request.headers.get(THREAD_HEADER)
    if given:
        thread_id = _thread_id(given, caller)
    elif request_id is not None:
        # A retried request without a thread must land in the thread its first try made.
        thread_id = request_hash(caller.tenant or "", "new-thread", request_id)
    else:
        thread_id = uuid.uuid4().hex
    culture = metadata.get("culture")
    if culture is not None and len(str(culture)) > MAX_CULTURE_CHARS:
        raise InvalidInputError(f"unknown culture {quote(culture)}: too long to be a culture")
    user = chat.user.strip() if chat.user is not None else None
    if chat.user is not None and not user:
        raise InvalidInputError("'user' must not be empty when given")
    if user is not None and (len(user) > MAX_USER_CHARS or not user.isprintable()):
        raise InvalidInputError(
            f"invalid user {quote(user)}: 1-{MAX_USER_CHARS} printable characters"
        )
    stored = caller.thread(thread_id)
    turn = TurnRequest(
        text=text,
        thread_id=stored,
        user_id=caller.user(user) if user else None,
        culture=str(culture) if culture else None,
        message_id=message_id(stored, request_id) if request_id is not None else None,
    )
    return turn, thread_id


def _extra(finished: Finished, client_thread: str) -> dict[str, Any]:
    """The `manyshores` object, naming the thread as the client does (not as stored)."""
    extra = finished.result.to_json()
    extra["thread_id"] = client_thread
    if finished.replayed:
        extra["replayed"] = True
    return extra


def _thread_values(assistant: CultureAssistant, thread_id: str) -> dict[str, Any] | None:
    snap = assistant.graph.get_state({"configurable": {"thread_id": thread_id}})
    if not snap.values:
        return None
    messages = [
        {"role": "user" if m.type == "human" else "assistant", "content": m.content}
        for m in snap.values.get("messages", [])
        if m.type in ("human", "ai")
    ]
    return {
        "thread_id": thread_id,
        "messages": messages,
        "turn": snap.values.get("turn", 0),
        "pending": bool(snap.next),
    }


def _sse_line(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


async def _sse(
    events: AsyncIterator[Token | Finished],
    cid: str,
    model: str,
    include_usage: bool,
    db_url: str | None,
    client_thread: str,
) -> AsyncIterator[str]:
    """OpenAI's stream: a role chunk, content deltas, a closing chunk carrying `manyshores`,
    optionally a usage chunk, then `[DONE]`. A failure after the stream began is sent as an
    OpenAI error event (the status line is already out)."""
    created = int(time.time())
    yield _sse_line(protocol.chunk(cid, model, created, {"role": "assistant", "content": ""}))
    streamed = ""
    # The stored answer is the generated text stripped: leading whitespace is dropped and
    # trailing whitespace held back until more text follows, so what is streamed stays a
    # prefix of the answer.
    held = ""
    try:
        async for item in events:
            if isinstance(item, Token):
                text = held + item.text
                if not streamed:
                    text = text.lstrip()
                body = text.rstrip()
                held = text[len(body) :]
                if body:
                    streamed += body
                    yield _sse_line(protocol.chunk(cid, model, created, {"content": body}))
                continue
            answer = item.result.answer
            # The answer as stored can extend what a lone expert streamed (or, when several
            # experts are combined, nothing was streamed): send the rest so that the
            # concatenated deltas are the answer.
            if answer.startswith(streamed) and len(answer) > len(streamed):
                rest = answer[len(streamed) :]
                yield _sse_line(protocol.chunk(cid, model, created, {"content": rest}))
            elif not answer.startswith(streamed):
                log.warning("streamed text differs from the stored answer in %s", cid)
            yield _sse_line(
                protocol.chunk(
                    cid, model, created, {}, "stop", manyshores=_extra(item, client_thread)
                )
            )
            if include_usage:
                final = protocol.chunk(
                    cid,
                    model,
                    created,
                    {},
                    usage=protocol.usage(item.prompt_tokens, item.completion_tokens),
                )
                final["choices"] = []
                yield _sse_line(final)
    except Exception as exc:
        err = _as_http(exc, db_url)
        yield _sse_line(protocol.error_body(str(err), err.kind))
    yield "data: [DONE]\n\n"
