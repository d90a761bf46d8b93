"""SIGKILL in the middle of a turn loses nothing: the next invoke completes it, then continues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# The child runs a real assistant (tiny model, real stores) whose expert step blocks, so the
# parent can kill it after detect/retrieve/route are checkpointed and before the turn ends.
CHILD = r"""
import sys, time
from pathlib import Path
from tests.tiny_model import build_tiny_base_model
sys.path.insert(0, sys.argv[2])
from tests.graph_fixtures import tiny_assistant

home = Path(sys.argv[1])
assistant = tiny_assistant(build_tiny_base_model(), home)
assistant.invoke("I'm from Kenya. What do we eat for breakfast?", thread_id="crash")
experts = assistant.components.get_experts()
real_answer = experts.answer
def slow_answer(*args, **kwargs):
    print("IN-EXPERT", flush=True)
    time.sleep(600)
    return real_answer(*args, **kwargs)
experts.answer = slow_answer
assistant.invoke("And what about lunch?", thread_id="crash")
"""


def test_sigkill_mid_turn_then_continue(tmp_path, tiny_base, checkpoint_backend):
    from tests.graph_fixtures import tiny_assistant

    # The child reads the PostgreSQL URL (when there is one) from its environment.
    env = {**os.environ}
    if "checkpoint_url" in checkpoint_backend:
        env["MANYSHORES_CHECKPOINT_URL"] = checkpoint_backend["checkpoint_url"]

    root = str(Path(__file__).resolve().parents[1])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), root],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 300
    assert child.stdout is not None
    line = ""
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if "IN-EXPERT" in line or line == "":
            break
    assert "IN-EXPERT" in line, child.stderr.read() if child.stderr else ""
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    assistant = tiny_assistant(tiny_base, tmp_path, **checkpoint_backend)
    head = assistant.graph.get_state({"configurable": {"thread_id": "crash"}})
    assert head.next  # the second turn was cut off mid-way
    result = assistant.invoke("And for dinner?", thread_id="crash")
    humans = [m.content for m in result.values["messages"] if m.type == "human"]
    assert humans == [
        "I'm from Kenya. What do we eat for breakfast?",
        "And what about lunch?",
        "And for dinner?",
    ]
    ais = [m for m in result.values["messages"] if m.type == "ai"]
    assert len(ais) == 3  # the interrupted turn was completed, then the new one answered
    turns = [s.turn for s in assistant.trace("crash") if s.node == "respond"]
    assert turns == [1, 2, 3]
