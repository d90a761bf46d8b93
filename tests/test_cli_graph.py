"""`manyshores ask`, `chat` and `trace` from the command line."""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.graph_fixtures import tiny_assistant


def _cli(
    args: list[str], env_extra: dict[str, str], stdin: str | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "manyshores.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_trace_cli_reads_checkpoints_without_a_model(tiny_base, tmp_path):
    assistant = tiny_assistant(tiny_base, tmp_path)
    assistant.invoke("I'm from Greece. What do we eat at Easter?", thread_id="cli-trace")
    env = {
        "MANYSHORES_CHECKPOINT_DB": str(tmp_path / "checkpoints.sqlite"),
        "MANYSHORES_BASE_MODEL": "/no/model/needed/to/read/a/trace",
    }
    proc = _cli(["trace", "cli-trace", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)
    assert [s["node"] for s in steps][:3] == ["detect", "retrieve", "route"]
    assert steps[-1]["node"] == "respond"
    one = json.loads(_cli(["trace", "cli-trace", "--step", "0", "--json"], env).stdout)
    assert one["node"] == "detect" and "posterior" in one["wrote"]
    missing = _cli(["trace", "no-such-thread"], env)
    assert missing.returncode == 2 and "unknown thread" in missing.stderr
    bad_step = _cli(["trace", "cli-trace", "--step", "999"], env)
    assert bad_step.returncode == 2 and "not 999" in bad_step.stderr


def _damage_pages(db: Path, first_page: int = 2) -> None:
    """Write random bytes over every page from `first_page` on (page 1, the header and the
    schema, stays intact so the file still opens as SQLite)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    assert pages > first_page, "the thread should fill several pages"
    rng = random.Random(7)
    with db.open("r+b") as f:
        for page in range(first_page, pages + 1):
            f.seek((page - 1) * page_size)
            f.write(rng.randbytes(page_size))


def test_trace_reads_as_turns_and_a_damaged_database_is_one_line(tiny_base, tmp_path):
    assistant = tiny_assistant(tiny_base, tmp_path)
    first = "I'm from Greece. What do we eat at Easter?"
    second = "Which is more polite: (A) bowing (B) shaking hands?"
    assistant.invoke(first, thread_id="two")
    result = assistant.invoke(second, thread_id="two")
    assistant.checkpointer.conn.close()
    db = tmp_path / "checkpoints.sqlite"
    env = {"MANYSHORES_CHECKPOINT_DB": str(db), "MANYSHORES_HOME": str(tmp_path), "COLUMNS": "200"}
    proc = _cli(["trace", "two"], env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # Per turn: the message, the culture with p, the experts, the answer, each node timed.
    assert out.index("turn 1") < out.index(first) < out.index("turn 2") < out.index(second)
    assert out.count("GRC p=") == 2
    assert f"persona:GRC ({result.experts[0]['weight']:.2f})" in out
    assert result.answer and result.answer.split("\n")[0] in out  # a long answer is shortened
    for node in ("detect", "retrieve", "route", "aggregate", "respond"):
        assert out.count(f" {node} ") == 2, node
    assert out.count(" expert ") == 1  # the first turn is answered from evidence
    assert "#10" in out and " ms" in out

    _damage_pages(db)
    broken = _cli(["trace", "two"], env)
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr
    lines = broken.stderr.strip().splitlines()
    assert len(lines) == 1 and str(db) in lines[0], broken.stderr
    doctor = _cli(["doctor"], env)
    assert "DAMAGED" in doctor.stdout and "integrity" in doctor.stdout, doctor.stdout
    assert doctor.returncode == 1


@pytest.mark.slow
def test_ask_json_prints_exactly_one_object(tmp_path):
    env = {"MANYSHORES_CHECKPOINT_DB": str(tmp_path / "cp.sqlite")}
    proc = _cli(
        [
            "ask",
            "I'm from Kenya. How important is family in your life? Options: Very "
            "important, Rather important, Not very important, Not at all important",
            "--json",
            "--thread",
            "ask1",
        ],
        env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)  # the whole stdout is one JSON object
    assert data["thread_id"] == "ask1" and data["task"] == "multiple_choice"
    assert data["cultures"][0]["id"] == "KEN"
    assert len(data["options"]) == 4 and abs(sum(o["p"] for o in data["options"]) - 1) < 1e-3
    assert data["steps"][0] == "detect" and data["steps"][-1] == "respond"
    assert all(set(s) == {"kind", "ref", "snippet"} for s in data["sources"])
    bad = _cli(["ask", "hello", "--culture", "Atlantis", "--json"], env)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")


@pytest.mark.slow
def test_chat_repl_turns_and_commands(tmp_path):
    env = {
        "MANYSHORES_CHECKPOINT_DB": str(tmp_path / "cp.sqlite"),
        "MANYSHORES_MAX_NEW_TOKENS": "12",
    }
    script = "I'm from Mexico. What do we eat at Christmas?\n/trace\n/culture KEN\nWhat about breakfast?\n/quit\n"
    proc = _cli(["chat", "--thread", "repl"], env, stdin=script)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "culture: MEX" in out and "trace" in out and "respond" in out
    assert "culture: KEN" in out
    assert len(re.findall(r"^\d+\.\ds( \(first words \d+\.\ds\))?$", out, re.M)) == 2  # per turn


def test_turn_time_names_the_first_words_only_when_streamed():
    import time

    from manyshores.cli.graph import turn_time

    start = time.perf_counter() - 2.0
    assert re.fullmatch(r"2\.\ds", turn_time(start, None))
    assert re.fullmatch(r"2\.\ds \(first words 0\.5s\)", turn_time(start, start + 0.5))


@pytest.mark.slow
def test_ask_with_a_chat_model_returns_its_text_citing_the_evidence(tmp_path):
    # An OpenAI-compatible server at the protocol boundary, writing what a capable model would:
    # the default model cannot write such text (docs/engine.md), so this is what the CLI shows.
    from manyshores.testing.vllm_server import FakeVllmServer

    toast = (
        "Congratulatory money is the usual gift [1]. Give it in an envelope [7]. "
        "To the couple: a long and happy life together!"
    )
    with FakeVllmServer(text=toast) as server:
        env = {
            "MANYSHORES_CHECKPOINT_DB": str(tmp_path / "cp.sqlite"),
            "MANYSHORES_CHAT_MODEL": "openai:served-model",
            "MANYSHORES_CHAT_MODEL_BASE_URL": f"{server.url}/v1",
            "TAVILY_API_KEY": "",
        }
        proc = _cli(["ask", "Write a short toast for a wedding in South Korea", "--json"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert (
        data["wording"] == "generated" and data["text_runtime"] == "chat_model:openai:served-model"
    )
    assert data["answer"].startswith("Congratulatory money is the usual gift [1].")
    assert "[7]" not in data["answer"] and "happy life together!" in data["answer"]
    assert len(data["sources"]) < 7  # [7] was not listed: taken out, and the notes say so
    assert "congratulatory money" in data["sources"][0]["snippet"]  # [1] is what it was shown
    assert data["cultures"][0]["id"] == "KOR"
