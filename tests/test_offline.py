"""The default path never touches the network: the demo runs with non-loopback sockets blocked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Runs the CLI in a child whose audit hook raises on any connect() outside loopback.
_GUARD = r"""
import ipaddress, socket, sys
def guard(event, args):
    if event == "socket.connect":
        addr = args[1]
        host = addr[0] if isinstance(addr, tuple) else None
        if host is not None:
            try:
                ok = ipaddress.ip_address(host).is_loopback
            except ValueError:
                ok = host == "localhost"
            if not ok:
                raise RuntimeError(f"network access blocked: {addr}")
    if event == "socket.getaddrinfo" and args[0] not in ("localhost", "127.0.0.1", "::1", None):
        raise RuntimeError(f"DNS lookup blocked: {args[0]}")
sys.addaudithook(guard)
from manyshores.cli.main import main
sys.argv = ["manyshores"] + sys.argv[1:]
main()
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_runs_with_network_blocked(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env["MANYSHORES_HOME"] = os.environ["MANYSHORES_HOME"]
    # The demo builds the default knowledge base first (13,000 passages embedded on the CPU).
    proc = subprocess.run(
        [sys.executable, "-c", _GUARD, "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "network access blocked" not in proc.stderr
    assert "first answer" in proc.stdout
    assert "[1]" in proc.stdout  # an evidence reply, cited, offline


def test_guard_really_blocks(tmp_path):
    """The guard itself must bite, or the test above proves nothing."""
    code = _GUARD.split("from manyshores")[0] + (
        "import socket\ntry:\n    socket.create_connection(('10.255.255.1', 80), timeout=1)\n"
        "except RuntimeError as e:\n    print('BLOCKED', e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "BLOCKED" in proc.stdout
