"""A small local HTTP server speaking Tavily's `/search` JSON, for tests through the real client.

    with TavilyTestServer(results={"breakfast": [...]}) as server:
        client = TavilyClient(api_key="tvly-test", api_base_url=server.url)
        server.mode = "429"        # "ok", "401", "429", "500", "slow"

tavily-python 0.8.5 POSTs JSON (`query`, `max_results`, `country`, `topic`, ...) to
`{api_base_url}/search` with `Authorization: Bearer <key>`; a 200 answer is a JSON object with
`results: [{title, url, content, score, raw_content}]`; 401/429 carry `{"detail": {"error": ...}}`.
The server binds 127.0.0.1 on a free port and runs in a daemon thread.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("ok", "401", "429", "500", "slow")


def canned_result(query: str, i: int = 0) -> dict[str, Any]:
    """A plausible result for any query (used when no canned results match)."""
    return {
        "title": f"Result {i + 1} for {query}",
        "url": f"https://example.org/{abs(hash((query, i))) % 10**8}",
        "content": f"Some everyday-culture facts about {query}.",
        "score": round(0.9 - 0.1 * i, 3),
        "raw_content": None,
    }


@dataclass
class TavilyTestServer:
    """Tavily `/search` on 127.0.0.1; see the module docstring."""

    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Canned results: the first key found (case-insensitive) in the query picks its list."""
    mode: str = "ok"
    """`ok`, `401`, `429`, `500` or `slow` (reply after `slow_s`)."""
    fail_times: int = 0
    """In `ok` mode, answer the first `fail_times` requests with 500 (tests retries)."""
    slow_s: float = 2.0
    """Delay of the `slow` mode."""
    api_key: str | None = None
    """When set, any other bearer token gets 401."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every request body received (headers are not kept: they hold the key)."""
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> TavilyTestServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"detail": {"error": "invalid JSON"}})
                    return
                if self.path.rstrip("/") != "/search":
                    self._send(404, {"detail": {"error": "not found"}})
                    return
                owner.requests.append(body)
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                mode = owner.mode
                if mode == "401" or (owner.api_key is not None and token != owner.api_key):
                    self._send(
                        401, {"detail": {"error": "Unauthorized: missing or invalid API key."}}
                    )
                elif mode == "429":
                    self._send(429, {"detail": {"error": "Rate limit exceeded."}})
                elif mode == "500" or (mode == "ok" and owner.fail_times > 0):
                    owner.fail_times = max(owner.fail_times - 1, 0)
                    self._send(500, {"detail": {"error": "Internal server error"}})
                else:
                    if mode == "slow":
                        time.sleep(owner.slow_s)
                    self._send(200, owner.answer(body))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        query = str(body.get("query", ""))
        n = int(body.get("max_results") or 5)
        results = next(
            (r for key, r in self.results.items() if key.lower() in query.lower()),
            [canned_result(query, i) for i in range(2)],
        )
        return {
            "query": query,
            "follow_up_questions": None,
            "answer": None,
            "images": [],
            "results": results[:n],
            "response_time": 0.01,
            "request_id": f"test-{len(self.requests)}",
        }

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TavilyTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
