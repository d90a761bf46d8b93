"""Ending a server process a test started: politely first, then for sure."""

from __future__ import annotations

import subprocess


def end_process(proc: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """Terminate `proc` if it still runs; kill it when it does not stop within `timeout_s`."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)
