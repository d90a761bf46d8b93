"""Running the app as a server process that drains on SIGTERM.

On SIGTERM (what an orchestrator or `kill` sends to restart a replica) the process does not stop
at once: `/healthz` answers 503 from that moment, so a load balancer checking it stops sending
requests here; new completions that still arrive are refused with 503 and `Retry-After` (no work
done, so the client sends them again, to another replica); turns under way run to the end and
their responses are sent. When none is left, or after `drain_timeout_s`, the process exits. A
second SIGTERM, or SIGINT, exits at once (uvicorn's own graceful stop). A turn cut off by the
timeout or a kill is completed by its thread's next call (its message is checkpointed first).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

log = logging.getLogger("manyshores.serve")

EXIT_CUT = 3
"""Exit status when the drain timeout passed with turns still running."""


def _drain_server_class() -> Any:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn's server, with SIGTERM starting a drain instead of a stop."""

        def __init__(self, config: uvicorn.Config, app: Any, drain_timeout_s: float) -> None:
            super().__init__(config)
            self.app = app
            self.drain_timeout_s = drain_timeout_s
            self._drain: threading.Thread | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if sig != signal.SIGTERM or self._drain is not None:
                super().handle_exit(sig, frame)
                return
            self.app.state.draining.set()
            self._drain = threading.Thread(target=self._wait_turns, name="manyshores-drain")
            self._drain.start()

        def _wait_turns(self) -> None:
            runner = self.app.state.runner
            log.warning(
                "SIGTERM: draining (health 503, %d turns to finish, at most %g s)",
                runner.pending,
                self.drain_timeout_s,
            )
            deadline = time.monotonic() + self.drain_timeout_s
            while runner.pending and time.monotonic() < deadline:
                time.sleep(0.05)
            if runner.pending:
                log.error(
                    "drain timeout: exiting with %d turns running; each thread's next call "
                    "completes its turn",
                    runner.pending,
                )
                os._exit(EXIT_CUT)  # the model threads cannot be interrupted; the data is safe
            # The last responses are on their way: uvicorn waits for open connections.
            self.should_exit = True

    return DrainingServer


def serve_app(app: Any, host: str, port: int, drain_timeout_s: float = 60.0) -> None:
    """Serve `app` (from `create_app`) on host:port until SIGTERM has drained it or SIGINT."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # Responses of finished turns still streaming out get this long after the drain.
        timeout_graceful_shutdown=10,
    )
    _drain_server_class()(config, app, drain_timeout_s).run()
