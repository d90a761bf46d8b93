"""`CultureAssistant`: the graph as a multi-turn assistant with memory, traces and time travel.

assistant = CultureAssistant()                       # embedded defaults, SQLite checkpoints
result = assistant.invoke("I'm from Kenya. What do we eat for breakfast?", thread_id="t1")
result.answer, result.cultures, result.experts, result.sources
for event in assistant.stream("And for lunch?", thread_id="t1"): print(event.node)
assistant.trace("t1")                                # every step of every turn, in order
assistant.fork("t1", step=0, culture="MEX")          # replay a turn as another culture
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from manyshores.budget import DEADLINE_KEY, deadline_after
from manyshores.components import Components
from manyshores.content import check_message_text
from manyshores.errors import InvalidInputError
from manyshores.graph.builder import build_graph
from manyshores.graph.checkpoints import open_settings_checkpointer, unreadable
from manyshores.graph.trace import TraceStep, read_trace

MAX_THREAD_ID = 200


@dataclass
class TurnResult:
    """What one turn produced, read from the thread's state after the turn."""

    thread_id: str
    values: dict[str, Any]
    """The full state after the turn."""
    steps: list[str] = field(default_factory=list)
    """Nodes of this turn, in the order they ran."""
    interrupt: dict[str, Any] | None = None
    """Set when the run paused to ask the user (e.g. which culture); resume to continue."""

    @property
    def answer(self) -> str:
        return str(self.values.get("answer", ""))

    @property
    def cultures(self) -> list[dict[str, Any]]:
        return list(self.values.get("posterior", {}).get("cultures", []))

    @property
    def experts(self) -> list[dict[str, Any]]:
        return list(self.values.get("experts", []))

    @property
    def option_probs(self) -> list[float]:
        """Committee distribution over the task's options (empty for free text)."""
        return list(self.values.get("option_probs") or [])

    @property
    def sources(self) -> list[dict[str, Any]]:
        return list(self.values.get("sources", []))

    def to_json(self) -> dict[str, Any]:
        """The `manyshores ask --json` object."""
        task = self.values.get("task", {})
        probs = self.values.get("option_probs") or []
        options = task.get("options", []) if probs else []
        posterior = self.values.get("posterior", {})
        turn = self.values.get("turn")
        return {
            "answer": self.answer,
            "short": self.values.get("short", ""),
            "answers": list(self.values.get("answers") or []),
            # How the lead is stated (`answer` / `related` / `none`) and its calibrated chance.
            "wording": self.values.get("wording") or "none",
            "confidence": self.values.get("confidence"),
            "choice": self.values.get("choice"),
            "thread_id": self.thread_id,
            "cultures": [{"id": c["id"], "p": round(float(c["p"]), 4)} for c in self.cultures],
            "ambiguous": bool(posterior.get("ambiguous", False)),
            "culture_basis": culture_basis(posterior),
            "user_culture": self.values.get("user_culture"),
            "task": task.get("name", "other"),
            "language": self.values.get("language"),
            "experts": [
                {"id": e["id"], "weight": round(float(e["weight"]), 4)} for e in self.experts
            ],
            "sources": [
                {
                    "kind": s["kind"],
                    "ref": s["ref"],
                    "snippet": s["snippet"],
                    "culture": s.get("culture"),
                    "score": round(float(s.get("score") or 0.0), 4),
                }
                for s in self.sources
            ],
            "options": [{"text": t, "p": round(float(p), 4)} for t, p in zip(options, probs)],
            "notes": list(self.values.get("notes") or []),
            # The runtime that generated the answer's text (`llama_cpp`, `chat_model:…`...).
            "text_runtime": next(
                (a["runtime"] for a in self.values.get("expert_answers") or [] if a.get("runtime")),
                None,
            ),
            "steps": list(self.steps),
            "timings_ms": {
                r["node"]: round(1000 * float(r["seconds"]), 1)
                for r in self.values.get("steps", [])
                if r.get("turn") == turn
            },
        }


def culture_basis(posterior: dict[str, Any]) -> list[str]:
    """Why the top culture leads: the kinds of signal behind it, strongest first.

    `mention` (or a cue: `festival`, `dish`, `city`, `currency`, `landmark`) means the message
    is about that culture; `own` that it is the person's own and the message named no other;
    `profile` that a stated `/culture` or a long-term profile favours it; `history` that
    earlier turns set it.
    """
    cultures = posterior.get("cultures") or []
    if not cultures or posterior.get("unknown"):
        return []
    top = cultures[0]["id"]
    weights: dict[str, float] = {}
    for signal in posterior.get("signals", []):
        if signal.get("culture") == top:
            kind = str(signal["kind"])
            weights[kind] = weights.get(kind, 0.0) + float(signal["weight"])
    return sorted(weights, key=lambda k: -weights[k])


@dataclass
class StepEvent:
    """One node finished, or (node `token`) a piece of an answer being generated."""

    thread_id: str
    node: str
    update: dict[str, Any]
    """The node's state update; for `token` events `{"text": piece, "expert": id}`."""

    @property
    def is_step(self) -> bool:
        return not self.node.startswith("__") and self.node != "token"


def _check_thread_id(thread_id: str) -> str:
    if not thread_id or len(thread_id) > MAX_THREAD_ID or not thread_id.isprintable():
        raise InvalidInputError(
            f"invalid thread id {thread_id!r}: 1-{MAX_THREAD_ID} printable characters"
        )
    return thread_id


check_thread_id = _check_thread_id
"""The thread id itself, or InvalidInputError (for callers that name threads, e.g. the API)."""


class CultureAssistant:
    """Multi-turn culture-aware assistant over the compiled graph with SQLite checkpoints."""

    def __init__(
        self,
        components: Components | None = None,
        checkpointer: Any = None,
        durability: Literal["turn", "step"] | None = None,
    ) -> None:
        self.components = components or Components()
        settings = self.components.settings
        self.durability = durability or settings.checkpoint_durability
        # LangGraph's names: "exit" writes when the run ends, "sync" after every step too.
        self._langgraph_durability = "exit" if self.durability == "turn" else "sync"
        self.checkpointer = checkpointer or open_settings_checkpointer(settings)
        # Typed Any: LangGraph's overloads want RunnableConfig TypedDicts for plain config dicts.
        self.graph: Any = build_graph(self.components).compile(checkpointer=self.checkpointer)
        # thread id -> its head checkpoint after a run this process ended cleanly
        self._settled: dict[str, str] = {}

    # -- running turns -------------------------------------------------------------------

    def _config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": _check_thread_id(thread_id)}}

    def _turn_input(
        self,
        text: str,
        culture: str | None,
        user_id: str | None,
        confirm_culture: bool,
        user_culture: str | None = None,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        check_message_text(text)  # before anything is checkpointed: a refusal loses nothing
        detector = self.components.get_detector()
        if culture is not None:
            culture = detector.normalize(culture)
        payload: dict[str, Any] = {
            "messages": [HumanMessage(content=text, id=message_id)],
            "culture_override": culture,
            "user_id": user_id,
            "confirm_culture": confirm_culture,
        }
        if user_culture is not None:  # None keeps the thread's; "" clears it
            payload["user_culture"] = detector.normalize(user_culture) if user_culture else None
        return payload

    def _finish_pending(self, config: dict[str, Any]) -> None:
        """Complete a turn cut off mid-way (crash, kill) before starting the next one."""
        thread_id = config["configurable"]["thread_id"]
        head = self._head_id(thread_id)
        if head is None or self._settled.get(thread_id) == head:
            return  # a new thread, or its last run ended cleanly here and nothing wrote since
        snap = self.graph.get_state(config)
        if not snap.next:
            return
        if snap.interrupts:
            raise InvalidInputError(
                "this thread is waiting for an answer to: "
                f"{snap.interrupts[0].value.get('question', snap.interrupts[0].value)!s} — "
                "call resume(thread_id, answer) (or /culture ID in chat)"
            )
        self.graph.invoke(None, config, durability=self._langgraph_durability)

    def _head_id(self, thread_id: str) -> str | None:
        """Id of the thread's newest checkpoint: one indexed read, nothing deserialised."""
        if isinstance(self.checkpointer, SqliteSaver):
            with self.checkpointer.cursor(transaction=False) as cur:
                row = cur.execute(
                    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND "
                    "checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1",
                    (thread_id,),
                ).fetchone()
            return row[0] if row else None
        latest = self.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
        return latest.config["configurable"]["checkpoint_id"] if latest else None

    def result(self, thread_id: str, steps: list[str] | None = None) -> TurnResult:
        """The thread's state after its latest step, as a `TurnResult`."""
        snap = self.graph.get_state(self._config(thread_id))
        pending = snap.interrupts[0].value if snap.interrupts else None
        return TurnResult(
            thread_id=thread_id,
            values=dict(snap.values),
            steps=list(steps or []),
            interrupt=pending,
        )

    def stream(
        self,
        text: str,
        thread_id: str | None = None,
        culture: str | None = None,
        user_id: str | None = None,
        confirm_culture: bool = False,
        user_culture: str | None = None,
        message_id: str | None = None,
    ) -> Iterator[StepEvent]:
        """Run one turn, yielding an event as each node finishes.

        `message_id` becomes the id of the stored user message (a caller finds the turn again
        by it, e.g. to answer a retried request from the checkpoints instead of running it twice).
        """
        thread_id = thread_id or uuid.uuid4().hex
        config = self._config(thread_id)
        payload = self._turn_input(
            text, culture, user_id, confirm_culture, user_culture, message_id
        )
        self._finish_pending(config)
        yield from self._run(payload, config, thread_id)

    def finish_pending(self, thread_id: str) -> None:
        """Complete the thread's turn cut off mid-way (a crash, a killed process), if any."""
        self._finish_pending(self._config(thread_id))

    def _run(
        self,
        payload: Any,
        config: dict[str, Any],
        thread_id: str,
        tokens: bool = True,
        final: dict[str, Any] | None = None,
    ) -> Iterator[StepEvent]:
        """Run the graph, yielding node updates (and answer tokens when `tokens`).

        `final`, when given, receives the state after the last step (saves re-reading it).
        Token events cost a thread hand-off per step inside LangGraph, so `invoke` turns them off.
        """
        modes = ["updates", "values", "custom"] if tokens else ["updates", "values"]
        interrupted = False
        try:
            if isinstance(payload, dict):  # a new message: checkpoint it before any work
                self.graph.update_state(config, payload, as_node="__start__")
                payload = None
            deadline = deadline_after(self.components.settings.turn_timeout_s)
            run_config = {
                **config,
                "configurable": {**config["configurable"], DEADLINE_KEY: deadline},
            }
            for mode, chunk in self.graph.stream(
                payload, run_config, stream_mode=modes, durability=self._langgraph_durability
            ):
                if mode == "values":
                    if final is not None:
                        final.clear()
                        final.update(chunk)
                    continue
                if mode == "custom":  # tokens written by the expert node as they are generated
                    yield StepEvent(thread_id=thread_id, node="token", update=dict(chunk))
                    continue
                for node, update in chunk.items():
                    interrupted = interrupted or node == "__interrupt__"
                    yield StepEvent(thread_id=thread_id, node=node, update=update or {})
        except sqlite3.OperationalError as exc:
            # The message and every finished turn are checkpointed; the next call resumes.
            raise InvalidInputError(
                f"the checkpoint database is busy ({exc}): another process holds a lock on "
                f"{self.components.settings.checkpoint_path}; try again — nothing already "
                "answered in this thread is lost"
            ) from exc
        except Exception as exc:
            from manyshores.memory.postgres import is_outage, outage_error

            if is_outage(exc):
                raise outage_error(exc, self.components.settings.checkpoint_url) from exc
            raise
        if interrupted:
            self._settled.pop(thread_id, None)
        else:
            head = self._head_id(thread_id)
            if head is not None:
                self._settled[thread_id] = head

    def _run_to_result(self, payload: Any, config: dict[str, Any], thread_id: str) -> TurnResult:
        final: dict[str, Any] = {}
        steps = [e.node for e in self._run(payload, config, thread_id, False, final) if e.is_step]
        if not final or thread_id not in self._settled:  # paused: read the interrupt too
            return self.result(thread_id, steps)
        return TurnResult(thread_id=thread_id, values=final, steps=steps)

    def invoke(
        self,
        text: str,
        thread_id: str | None = None,
        culture: str | None = None,
        user_id: str | None = None,
        confirm_culture: bool = False,
        user_culture: str | None = None,
    ) -> TurnResult:
        """Run one turn and return its result. A new thread id is made when none is given."""
        thread_id = thread_id or uuid.uuid4().hex
        config = self._config(thread_id)
        payload = self._turn_input(text, culture, user_id, confirm_culture, user_culture)
        self._finish_pending(config)
        return self._run_to_result(payload, config, thread_id)

    def resume(self, thread_id: str, answer: str) -> TurnResult:
        """Continue a run paused by an interrupt (e.g. the culture question) with the user's answer."""
        config = self._config(thread_id)
        if not self.graph.get_state(config).interrupts:
            raise InvalidInputError(f"thread '{thread_id}' is not waiting for an answer")
        return self._run_to_result(Command(resume=answer), config, thread_id)

    # -- inspecting and replaying -----------------------------------------------------------

    def trace(self, thread_id: str) -> list[TraceStep]:
        """Every step of the thread's current branch, in order, read from the checkpoints."""
        thread_id = _check_thread_id(thread_id)
        try:
            return read_trace(self.graph, thread_id)
        except sqlite3.DatabaseError as exc:  # a damaged page: one clear line, not a traceback
            raise unreadable(self._checkpoint_file(), exc) from exc

    def _checkpoint_file(self) -> Path:
        """The SQLite file behind the checkpointer (the configured path when not SQLite)."""
        conn: Any = getattr(self.checkpointer, "conn", None)
        try:  # PRAGMA database_list reads no page of the file: it answers even when damaged
            for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
                if name == "main" and file:
                    return Path(file)
        except (AttributeError, sqlite3.Error):
            pass
        return self.components.settings.checkpoint_path

    def fork(self, thread_id: str, step: int, **overrides: Any) -> TurnResult:
        """Replay the turn of trace step `step` from its start, with state overrides.

        `culture="MEX"` is shorthand for `culture_override="MEX"`. The original branch stays in
        the checkpoints (reachable by its checkpoint ids); the thread's head moves to the fork.
        A turn is replayed whole: every node after `detect` depends on the culture it found.
        """
        steps = self.trace(thread_id)
        if not 0 <= step < len(steps):
            raise InvalidInputError(
                f"thread '{thread_id}' has steps 0-{len(steps) - 1}, not {step}"
            )
        if not steps[step].checkpoint_id:
            raise InvalidInputError(f"step {step} of thread '{thread_id}' has no checkpoint")
        if "culture" in overrides:
            overrides["culture_override"] = self.components.get_detector().normalize(
                overrides.pop("culture")
            )
        config = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": "",
                "checkpoint_id": steps[step].checkpoint_id,
            }
        }
        # Written "as" the input, so `detect` is still next: the new branch replays the turn.
        forked = self.graph.update_state(config, overrides, as_node="__start__")
        return self._run_to_result(None, forked, thread_id)
