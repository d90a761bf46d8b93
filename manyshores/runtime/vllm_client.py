"""A small client of vLLM's OpenAI-compatible server: the few calls the vLLM engine makes.

Every failure of the server — refused connection, no answer within the timeout, a stream that
closes before its end, an error status, a body that is not the protocol — becomes one
`EngineError` naming the server and what went wrong, so a caller never hangs and never sees a
raw transport exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from manyshores.errors import ManyshoresError


class EngineError(ManyshoresError):
    """The serving engine could not do the work (unreachable, too slow, died, refused it)."""


@dataclass
class VllmClient:
    """HTTP calls to one vLLM server (thread-safe: httpx's client is)."""

    url: str
    """`http://host:port` of the server (no `/v1`)."""
    timeout_s: float = 60.0
    """Longest wait for any response byte: a request or a stream silent for this long fails."""
    connect_timeout_s: float = 3.0
    """Longest wait for the connection itself."""
    _http: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import httpx

        self.url = self.url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            # Many experts of many turns at once: let them all reach the server's batcher.
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    def _fail(self, what: str, exc: BaseException) -> EngineError:
        import httpx

        if isinstance(exc, httpx.ConnectError):
            why = "refused the connection (is it running? `manyshores engine status`)"
        elif isinstance(exc, httpx.TimeoutException):
            why = f"sent nothing for {self.timeout_s:g} s"
        elif isinstance(exc, httpx.HTTPStatusError):
            why = f"answered {exc.response.status_code}: {exc.response.text[:300]}"
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            why = "closed the connection mid-answer"
        else:
            why = f"{type(exc).__name__}: {exc}"
        return EngineError(f"vLLM server {self.url}: {what} failed: it {why}")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body, return the JSON answer."""
        import httpx

        try:
            response = self._http.post(path, json=body)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise self._fail(f"POST {path}", exc) from exc
        if not isinstance(data, dict):
            raise EngineError(f"vLLM server {self.url}: POST {path} answered {data!r}")
        return data

    def stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST with `stream: true`; each server-sent event's JSON until `[DONE]`."""
        import httpx

        done = False
        try:
            with self._http.stream("POST", path, json={**body, "stream": True}) as response:
                if response.status_code >= 400:
                    response.read()
                    response.raise_for_status()
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    event = json.loads(data)
                    if isinstance(event, dict) and "error" in event:
                        raise EngineError(f"vLLM server {self.url}: {event['error']}")
                    yield event
        except (httpx.HTTPError, ValueError) as exc:
            raise self._fail(f"stream {path}", exc) from exc
        if not done:
            raise EngineError(
                f"vLLM server {self.url}: stream {path} failed: it closed the stream before its end"
            )

    def models(self) -> list[str]:
        """The model names it serves (the base and every loaded adapter)."""
        import httpx

        try:
            response = self._http.get("/v1/models")
            response.raise_for_status()
            return [m["id"] for m in response.json()["data"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise self._fail("GET /v1/models", exc) from exc

    def healthy(self) -> bool:
        """True when `/health` answers 200."""
        import httpx

        try:
            return bool(
                self._http.get("/health", timeout=self.connect_timeout_s).status_code == 200
            )
        except httpx.HTTPError:
            return False

    def load_adapter(self, name: str, path: str) -> None:
        """Dynamic LoRA loading (the server needs `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`)."""
        import httpx

        try:
            response = self._http.post(
                "/v1/load_lora_adapter", json={"lora_name": name, "lora_path": path}
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise self._fail(f"loading adapter {name!r}", exc) from exc

    def close(self) -> None:
        self._http.close()
