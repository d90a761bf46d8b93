"""Run `manyshores serve`'s app on a free port in this process (uvicorn in a thread)."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from manyshores.serve import ServeConfig, create_app
from manyshores.testing.postgres import free_port

_APPS: dict[str, Any] = {}


def app_of(url: str) -> Any:
    """The app `running_server` serves at `url` (tests reach into its state)."""
    return _APPS[url]


@contextmanager
def running_server(assistant: Any, config: ServeConfig | None = None) -> Iterator[str]:
    """Yield the base URL of the app over `assistant`, served until the block ends."""
    import uvicorn

    port = free_port()
    app = create_app(assistant, config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).read()
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise AssertionError("the server did not start")
    _APPS[url] = app
    try:
        yield url
    finally:
        _APPS.pop(url, None)
        server.should_exit = True
        thread.join(timeout=30)
