"""A small client of `manyshores serve` for `manyshores ask --server URL` (standard library only,
so asking a running server needs none of the model's dependencies loaded)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from manyshores.errors import InvalidInputError, ManyshoresError
from manyshores.serve.config import THREAD_HEADER, base_url

SERVER_ENV = "MANYSHORES_SERVER"
"""Environment variable naming a running server for `manyshores ask`."""


def ask_server(
    url: str,
    text: str,
    *,
    thread_id: str | None = None,
    culture: str | None = None,
    user_id: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """One turn on the server at `url`; returns the `manyshores` object (the `ask --json` keys)."""
    metadata: dict[str, str] = {}
    if thread_id:
        metadata["thread_id"] = thread_id
    if culture:
        metadata["culture"] = culture
    body: dict[str, Any] = {
        "model": "manyshores",
        "messages": [{"role": "user", "content": text}],
        "metadata": metadata,
    }
    if user_id:
        body["user"] = user_id
    headers = {"Content-Type": "application/json"}
    key = api_key or os.environ.get("MANYSHORES_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if thread_id:
        headers[THREAD_HEADER] = thread_id
    request = urllib.request.Request(
        base_url(url) + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except Exception:
            message = exc.reason
        kind = InvalidInputError if exc.code in (400, 404, 413) else ManyshoresError
        raise kind(f"the server at {url} answered {exc.code}: {message}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ManyshoresError(f"cannot reach the manyshores server at {url}: {exc}") from exc
    return dict(data["manyshores"])
