"""A screenshot of a real manyshores trace in Phoenix, taken by headless Chromium.

Starts `phoenix serve` on a free loopback port (its own working directory), runs a two-turn
conversation with export on, then opens the second turn's trace in Phoenix with one span
selected and saves a PNG. Needs the Phoenix environment (`make phoenix-setup`) and Chromium:

    make phoenix-screenshot
    # or: MANYSHORES_PHOENIX_PYTHON=.venv-phoenix/bin/python \
    #     python examples/phoenix_screenshot.py --out docs/phoenix-trace.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

TURNS = (
    "I'm from Kenya. What do families usually eat for breakfast?",
    "How important is family in your life? Options: Very important, Rather important, "
    "Not very important, Not at all important",
)
PROJECT = "manyshores"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def screenshot(url: str, out: Path, width: int, height: int) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                # Phoenix renders client-side: give its scripts time before the capture.
                "--virtual-time-budget=20000",
                f"--screenshot={out}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/phoenix-trace.png"))
    parser.add_argument("--span", default="expert", help="Node span selected in the view.")
    parser.add_argument("--turn", type=int, default=2, help="Turn whose trace is shown.")
    parser.add_argument("--size", default="1600,1000", help="Window width,height.")
    args = parser.parse_args()

    from manyshores import telemetry
    from manyshores.components import Components
    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.graph.checkpoints import open_checkpointer
    from manyshores.testing.phoenix import start_phoenix

    with tempfile.TemporaryDirectory() as work:
        server = start_phoenix(Path(work) / "phoenix")
        try:
            os.environ[telemetry.ENDPOINT_ENV] = server.otlp_endpoint
            os.environ[telemetry.PROJECT_ENV] = PROJECT
            home = Path(work) / "home"
            # The usual caches (converted model, knowledge base); only the thread is throwaway.
            settings = Settings(checkpoint_db=home / "checkpoints.sqlite")
            assistant = CultureAssistant(
                Components(settings=settings),
                open_checkpointer(home / "checkpoints.sqlite"),
            )
            for text in TURNS:
                result = assistant.invoke(text, thread_id="phoenix-demo", user_id="demo")
                print(f"> {text}\n{result.answer}\n")
            telemetry.flush(30.0)
            telemetry.shutdown()

            spans = server.spans(PROJECT)
            root = next(
                s
                for s in spans
                if s["name"] == "turn"
                and (s.get("attributes") or {}).get("manyshores.turn") == args.turn
            )
            trace_id = root["context"]["trace_id"]
            selected = next(
                s for s in spans if s["name"] == args.span and s["context"]["trace_id"] == trace_id
            )
            project_id = server.project_id(PROJECT)
            url = (
                f"{server.url}/projects/{project_id}/traces/{trace_id}"
                f"?selectedSpanNodeId={selected['id']}"
            )
            width, height = (int(v) for v in args.size.split(","))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            screenshot(url, args.out, width, height)
            print(f"wrote {args.out} ({url})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
