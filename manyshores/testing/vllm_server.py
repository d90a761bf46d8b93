"""A small local HTTP server speaking the part of vLLM's OpenAI API the vLLM engine uses, well or
badly, for tests of the engine's failure modes without vLLM.

    with FakeVllmServer(mode="hang") as server:
        client = VllmClient(server.url, timeout_s=0.5)

Both `/v1/completions` (what the vLLM engine sends) and `/v1/chat/completions` (what any
OpenAI-compatible chat client sends, e.g. LangChain's `ChatOpenAI` at `url + "/v1"`) answer.

Modes: `ok` (answers: option log-probabilities `option_logprobs`, also as a chat completion's
`logprobs` unless `chat_logprobs` is off, completions `text` or `replies` in turn, streams it
word by word), `hang` (accepts, then sends nothing for `hang_s`), `cut` (a stream that sends
`cut_after` pieces then closes without `[DONE]`; a plain completion closes without an answer),
`500` (an engine error, as vLLM answers after its engine died), `garbage` (200 with a body that is
not the protocol). `/health` and `/v1/models` answer in every mode but `hang`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("ok", "hang", "cut", "500", "garbage")


@dataclass
class FakeVllmServer:
    """See the module docstring."""

    mode: str = "ok"
    """One of `MODES`."""
    text: str = "Bring a small gift and arrive on time."
    """The completion every generation request gets in `ok` mode."""
    option_logprobs: list[float] = field(default_factory=lambda: [-0.5, -1.5, -2.5, -3.5])
    """Log-probabilities reported for the requested token ids, in order (cycled)."""
    models: list[str] = field(default_factory=lambda: ["base"])
    """What `/v1/models` lists."""
    chat_logprobs: bool = True
    """A chat completion asked for `logprobs` gets them (the first token's top tokens: the
    letters A, B, … with `option_logprobs`); False: a server that returns none (older Ollama)."""
    replies: list[str] = field(default_factory=list)
    """Whole (not streamed) chat completions, in turn (cycled); empty: `text` every time."""
    hang_s: float = 5.0
    """How long `hang` stays silent."""
    cut_after: int = 2
    """Stream pieces sent before `cut` closes the connection."""
    piece_delay_s: float = 0.0
    """Pause after each streamed piece (to cut a stream while a client reads it)."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every POST body received, with its path under `_path`."""
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeVllmServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if owner.mode == "hang":
                    time.sleep(owner.hang_s)
                if self.path == "/health":
                    self._json(200, {})
                elif self.path == "/v1/models":
                    self._json(200, {"data": [{"id": m} for m in owner.models]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append({**body, "_path": self.path})
                mode = owner.mode
                if mode == "hang":
                    time.sleep(owner.hang_s)
                    self.close_connection = True
                    return
                if mode == "500":
                    self._json(500, {"error": {"message": "EngineCore encountered an issue."}})
                    return
                if mode == "garbage":
                    self._json(200, {"choices": "no"})
                    return
                if self.path == "/v1/load_lora_adapter":
                    owner.models.append(body["lora_name"])
                    self._json(200, {})
                    return
                if body.get("stream"):
                    self._stream(body)
                    return
                if self.path == "/v1/chat/completions" and mode == "ok":
                    self._json(200, owner.chat_completion(body))
                    return
                if mode == "cut":
                    self.close_connection = True
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [')
                    return
                self._json(200, owner.completion(body))

            def _stream(self, body: dict[str, Any]) -> None:
                # The client may stop reading (it timed out, or its time ran out).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._stream_events(body)

            def _stream_events(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                chat = self.path == "/v1/chat/completions"
                words = owner.text.split(" ")
                for i, word in enumerate(words):
                    if owner.mode == "cut" and i >= owner.cut_after:
                        return  # the connection closes: no [DONE]
                    piece = word if i == 0 else " " + word
                    if chat:
                        delta = {"content": piece, **({"role": "assistant"} if i == 0 else {})}
                        event = owner.chat_event([{"index": 0, "delta": delta}])
                    else:
                        event = {"choices": [{"index": 0, "text": piece}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    if owner.piece_delay_s:
                        time.sleep(owner.piece_delay_s)
                usage = {"prompt_tokens": _prompt_tokens(body), "completion_tokens": len(words)}
                usage["total_tokens"] = usage["prompt_tokens"] + len(words)
                if chat:
                    done = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
                    self.wfile.write(f"data: {json.dumps(owner.chat_event(done))}\n\n".encode())
                if not chat or (body.get("stream_options") or {}).get("include_usage"):
                    event = owner.chat_event([], usage) if chat else {"choices": [], "usage": usage}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """The `ok` answer to a `/v1/completions` body."""
        ids = body.get("logprob_token_ids")
        if ids:
            lp = self.option_logprobs
            top = {f"token_id:{t}": lp[i % len(lp)] for i, t in enumerate(ids)}
            choice = {"index": 0, "text": "A", "logprobs": {"top_logprobs": [top]}}
            usage = {"prompt_tokens": len(body["prompt"]), "completion_tokens": 1}
            return {"choices": [choice], "usage": usage}
        words = len(self.text.split(" "))
        usage = {"prompt_tokens": len(body["prompt"]), "completion_tokens": words}
        return {"choices": [{"index": 0, "text": " " + self.text}], "usage": usage}

    def chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """The `ok` answer to a `/v1/chat/completions` body (not streamed)."""
        done = sum(r["_path"] == "/v1/chat/completions" and not r.get("stream")
                   for r in self.requests) - 1  # fmt: skip
        text = self.replies[done % len(self.replies)] if self.replies else self.text
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        if body.get("logprobs") and self.chat_logprobs:
            lp = self.option_logprobs
            top = [
                {"token": chr(65 + i), "logprob": v, "bytes": None}
                for i, v in sorted(enumerate(lp), key=lambda iv: -iv[1])
            ][: int(body.get("top_logprobs") or 1)]
            text = top[0]["token"]
            choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
        choice["message"] = {"role": "assistant", "content": text}
        words = len(text.split(" "))
        usage = {"prompt_tokens": _prompt_tokens(body), "completion_tokens": words}
        usage["total_tokens"] = usage["prompt_tokens"] + words
        return {**self.chat_event([choice], usage), "object": "chat.completion"}

    @staticmethod
    def chat_event(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        """A `chat.completion.chunk` carrying `choices` (and `usage`)."""
        event = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "fake",
            "choices": choices,
        }
        if usage is not None:
            event["usage"] = usage
        return event

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _prompt_tokens(body: dict[str, Any]) -> int:
    """Token ids sent (`/v1/completions`), or a word count of the messages (chat)."""
    if "prompt" in body:
        return len(body["prompt"])
    return sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
