"""A `manyshores serve` replica over the tiny model, as the replica tests run it:

    python -m tests.serve_replica HOME --port PORT

Settings come from the environment as for `manyshores serve` (MANYSHORES_CHECKPOINT_URL,
MANYSHORES_CHROMA_URL, MANYSHORES_API_KEYS, MANYSHORES_REPLICA). A message containing
`[slow]` takes `TEST_SLOW_TURN_S` (default 2) seconds longer, inside the conversation's lock, so
that a test can overlap turns on purpose.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

SLOW = "[slow]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--drain-timeout", type=float, default=30.0)
    args = parser.parse_args()

    from manyshores.serve import ServeConfig, create_app
    from manyshores.serve.process import serve_app
    from tests.graph_fixtures import tiny_assistant
    from tests.tiny_model import build_tiny_base_model

    # Each replica its own home (caches); what they share is in the database and Chroma.
    home = args.home / os.environ.get("MANYSHORES_REPLICA", "solo")
    assistant = tiny_assistant(build_tiny_base_model(), home, max_new_tokens=8)
    delay = float(os.environ.get("TEST_SLOW_TURN_S", "2"))
    real_stream = assistant.stream

    def stream(text, *a, **k):  # type: ignore[no-untyped-def]
        if SLOW in text:
            time.sleep(delay)
        yield from real_stream(text, *a, **k)

    assistant.stream = stream  # type: ignore[method-assign]
    # Warm, as `manyshores serve` is: the first request must not pay for loading.
    components = assistant.components
    components.get_detector()
    components.get_retriever()
    components.get_profiles()
    components.get_experts()
    config = ServeConfig.from_env(max_queue=64, request_timeout_s=120.0)
    serve_app(create_app(assistant, config), "127.0.0.1", args.port, args.drain_timeout)


if __name__ == "__main__":
    main()
