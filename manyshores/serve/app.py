"""The FastAPI app: OpenAI's chat-completions API over one warm `CultureAssistant`.

    POST /v1/chat/completions   stream or not; `metadata.thread_id` (or the X-Manyshores-Thread
                                header) continues a conversation, `user` names the profile
    GET  /v1/models             the one model served
    GET  /v1/threads/{id}       the thread's stored messages (what `bench serve` checks)
    GET  /healthz               liveness and queue depth (no key needed)

Order of checks on a completion: API key (401), body size (413), request shape (400), queue
room (429) — all before any model work.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

import manyshores.serve.protocol as protocol
from manyshores.errors import CheckpointStoreError, InvalidInputError, ManyshoresError
from manyshores.graph.assistant import CultureAssistant, check_thread_id
from manyshores.memory.postgres import is_outage, outage_error
from manyshores.serve.config import THREAD_HEADER, ServeConfig
from manyshores.serve.runner import (
    Finished,
    QueueFullError,
    Token,
    TurnRequest,
    TurnRunner,
    TurnTimeoutError,
)

log = logging.getLogger("manyshores.serve")


class HTTPError(Exception):
    """An error answered with an OpenAI error body and the given status."""

    def __init__(
        self, status: int, message: str, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.headers = headers or {}


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
    if isinstance(exc, InvalidInputError):
        return HTTPError(400, str(exc), "invalid_request_error")
    if is_outage(exc):
        exc = outage_error(exc, settings_url)
    if isinstance(exc, CheckpointStoreError):
        return HTTPError(503, str(exc), "service_unavailable", {"Retry-After": "5"})
    if isinstance(exc, ManyshoresError):
        return HTTPError(500, str(exc), "server_error")
    log.exception("unexpected error in a turn", exc_info=exc)
    return HTTPError(500, f"internal error: {type(exc).__name__}: {exc}", "server_error")


def _error_response(err: HTTPError) -> JSONResponse:
    return JSONResponse(
        protocol.error_body(str(err), err.kind), status_code=err.status, headers=err.headers
    )


def create_app(assistant: CultureAssistant, config: ServeConfig | None = None) -> FastAPI:
    """The HTTP app over a built assistant (its base model loads on the first turn unless
    the caller warmed it)."""
    config = config or ServeConfig()
    runner = TurnRunner(assistant, config.max_queue, config.workers)
    db_url = assistant.components.settings.checkpoint_url
    backend = "postgres" if db_url else "sqlite"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        runner.shutdown()

    app = FastAPI(title="manyshores", lifespan=lifespan)
    app.state.runner = runner
    app.state.config = config

    @app.exception_handler(HTTPError)
    async def on_http_error(request: Request, exc: HTTPError) -> JSONResponse:
        return _error_response(exc)

    def authorize(request: Request) -> None:
        if not config.api_keys:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        ok = scheme.lower() == "bearer" and any(
            hmac.compare_digest(token.strip().encode(), key.encode()) for key in config.api_keys
        )
        if not ok:
            raise HTTPError(
                401,
                "missing or invalid API key: send 'Authorization: Bearer <key>'",
                "invalid_api_key",
                {"WWW-Authenticate": "Bearer"},
            )

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
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": config.model_name,
            "backend": backend,
            "pending": runner.pending,
            "max_queue": config.max_queue,
        }

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
    async def thread(thread_id: str, request: Request) -> dict[str, Any]:
        authorize(request)
        try:
            check_thread_id(thread_id)
            values = await runner.call(_thread_values, assistant, thread_id, thread_id=thread_id)
        except Exception as exc:
            raise _as_http(exc, db_url) from exc
        if values is None:
            raise HTTPError(404, f"no thread '{thread_id}'", "not_found")
        return values

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        authorize(request)
        body = await read_body(request)
        try:
            chat = protocol.parse_request(body)
            turn = _turn_request(chat, request)
            events = runner.start(turn, config.request_timeout_s)
        except Exception as exc:
            raise _as_http(exc, db_url) from exc
        cid = protocol.completion_id()
        model = chat.model or config.model_name
        headers = {THREAD_HEADER: turn.thread_id}
        if chat.stream:
            include_usage = bool((chat.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                _sse(events, cid, model, include_usage, db_url),
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
                result.to_json(),
                protocol.usage(finished.prompt_tokens, finished.completion_tokens),
            ),
            headers=headers,
        )

    return app


def _turn_request(chat: protocol.ChatRequest, request: Request) -> TurnRequest:
    metadata = chat.metadata or {}
    thread_id = metadata.get("thread_id") or request.headers.get(THREAD_HEADER)
    thread_id = check_thread_id(str(thread_id)) if thread_id else uuid.uuid4().hex
    culture = metadata.get("culture")
    user = chat.user.strip() if chat.user is not None else None
    if chat.user is not None and not user:
        raise InvalidInputError("'user' must not be empty when given")
    return TurnRequest(
        text=protocol.turn_text(chat),
        thread_id=thread_id,
        user_id=user,
        culture=str(culture) if culture else None,
    )


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
                protocol.chunk(cid, model, created, {}, "stop", manyshores=item.result.to_json())
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
