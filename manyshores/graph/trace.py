"""Traces: each node records what it read and wrote in the checkpointed state; `read_trace`
turns a thread's records into ordered steps, each tied to the checkpoint its turn started from.

Only checkpoints are read (no side channel). A turn is checkpointed when its message arrives
and when it ends (`CultureAssistant`), so the records — not one checkpoint per step — carry the
step-by-step view.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.state import NEW_TURN

# The state keys each node reads, for showing "what it read".
NODE_READS: dict[str, tuple[str, ...]] = {
    "detect": ("messages", "culture_override", "user_id", "history", "confirm_culture"),
    "retrieve": ("text", "posterior"),
    "route": ("posterior", "task"),
    "expert": ("text", "task", "sources"),
    "aggregate": ("expert_answers", "task"),
    "respond": ("answer", "posterior", "task", "user_id"),
}

# Strings longer than this are cut in trace records: a 1 MB message must not be copied into
# the state once per step.
MAX_TRACE_CHARS = 2000


@dataclass
class TraceStep:
    """One node execution in a thread."""

    index: int
    """Position in the thread's trace, from 0."""
    turn: int
    """Conversation turn the step belongs to, from 1."""
    node: str
    seconds: float
    """Wall time the node took."""
    read: dict[str, Any]
    """The state values the node read."""
    wrote: dict[str, Any]
    """The update it returned (its writes to the state)."""
    checkpoint_id: str
    """Checkpoint the step's turn started from: fork here to replay the turn."""
    created_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_PLAIN = (int, float, bool, type(None))


def jsonable(value: Any) -> Any:
    """Plain JSON-able data, messages as type/content, long strings capped."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is str:
        if len(value) > MAX_TRACE_CHARS:
            return f"{value[:MAX_TRACE_CHARS]}[… {len(value) - MAX_TRACE_CHARS:,} more characters]"
        return value
    if kind is dict:
        return {k: jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    if hasattr(value, "type") and hasattr(value, "content"):  # a langchain message
        return {"type": value.type, "content": jsonable(value.content)}
    if isinstance(value, dict):  # subclasses, past the exact-type fast path above
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def read_view(values: Any, node: str) -> dict[str, Any]:
    """What `node` read from the state: its input keys, in short form where the full value is
    already in the record of the node that wrote it (records ride in every checkpoint)."""
    view = {k: values.get(k) for k in NODE_READS.get(node, ()) if k in values}
    if "messages" in view:  # the newest message is what a node reads; the rest is history
        msgs = view["messages"] or []
        view["messages"] = msgs[-1:]
        view["messages_count"] = len(msgs)
    if isinstance(view.get("posterior"), dict):  # the evidence is in detect's record
        posterior = view["posterior"]
        view["posterior"] = {
            "cultures": [{"id": c["id"], "p": c["p"]} for c in posterior.get("cultures", [])[:5]],
            "ambiguous": posterior.get("ambiguous"),
            "unknown": posterior.get("unknown"),
        }
    if view.get("sources"):  # the passages are in retrieve's record
        view["sources"] = [{"kind": s.get("kind"), "ref": s.get("ref")} for s in view["sources"]]
    if view.get("expert_answers"):  # the answers are in the expert records
        view["expert_answers"] = [a.get("expert_id") for a in view["expert_answers"]]
    if node == "expert" and "expert_batch" in values:
        view["experts"] = [choice.get("id") for choice in values["expert_batch"]]
    return jsonable(view)


def wrote_view(update: dict[str, Any]) -> dict[str, Any]:
    """A node's update as the trace shows it (without the per-turn notes marker)."""
    wrote = {k: v for k, v in update.items() if k != "steps"}
    if wrote.get("notes") and wrote["notes"][0] == NEW_TURN:
        wrote["notes"] = wrote["notes"][1:]
    return jsonable(wrote)


def branch_snapshots(graph: Any, config: dict[str, Any]) -> list[Any]:
    """Snapshots of the thread's current branch, oldest first (follows parent links from head)."""
    head = graph.get_state(config)
    if not head.values and head.config.get("configurable", {}).get("checkpoint_id") is None:
        thread = config["configurable"]["thread_id"]
        raise InvalidInputError(f"unknown thread '{thread}': no checkpoints stored for it")
    snapshots = [head]
    while snapshots[-1].parent_config is not None:
        snapshots.append(graph.get_state(snapshots[-1].parent_config))
    return list(reversed(snapshots))


def turn_starts(snapshots: list[Any]) -> dict[int, Any]:
    """Turn number -> the snapshot its turn started from (its message in, `detect` next)."""
    starts: dict[int, Any] = {}
    for snap in snapshots:
        if snap.next and snap.next[0] == "detect":
            starts[int(snap.values.get("turn", 0)) + 1] = snap
    return starts


def read_trace(graph: Any, thread_id: str) -> list[TraceStep]:
    config = {"configurable": {"thread_id": thread_id}}
    snapshots = branch_snapshots(graph, config)
    starts = turn_starts(snapshots)
    steps: list[TraceStep] = []
    for record in snapshots[-1].values.get("steps", []):
        turn = int(record.get("turn", 0))
        start = starts.get(turn)
        steps.append(
            TraceStep(
                index=len(steps),
                turn=turn,
                node=record["node"],
                seconds=float(record.get("seconds", 0.0)),
                read=dict(record.get("read") or {}),
                wrote=dict(record.get("wrote") or {}),
                checkpoint_id=start.config["configurable"]["checkpoint_id"] if start else "",
                created_at=start.created_at if start else None,
            )
        )
    return steps


# A culture is listed in a turn's summary when its p reaches this (the first always is).
SUMMARY_MIN_P = 0.05
SUMMARY_MAX_CULTURES = 3


@dataclass
class TurnSummary:
    """What one turn did, in words a person reads: built from its steps' records alone, so it
    works on any checkpoint and tolerates records that lack a field (older or newer nodes)."""

    turn: int
    """Conversation turn, from 1."""
    message: str
    """The user's message as the person wrote it."""
    read_as: str | None
    """The question the graph answered when it differs (a follow-up joined to the question it
    continues)."""
    cultures: list[tuple[str, float]]
    """Detected cultures with their p, most likely first (the likely ones only)."""
    flags: list[str]
    """`ambiguous` / `unknown` when detection said so."""
    task: str | None
    """The task detection saw (`open_qa`, `multiple_choice`, ...)."""
    experts: list[tuple[str, float | None]]
    """Experts consulted, with their router weight when recorded."""
    answer: str
    """The answer given (the reply's short form when the record has one)."""
    wording: str | None
    """How the reply stated its lead: `answer`, `related` or `none` (None in older records)."""
    confidence: float | None
    """Calibrated chance that the lead is right (None without an evidence lead)."""
    sources: list[str]
    """Passages or web pages the answer drew on: `kind ref (score)`."""
    notes: list[str]
    """The turn's notes (skipped web search, fallbacks, truncation)."""
    nodes: list[tuple[int, str, float]]
    """(step index, node, seconds) in the order they ran: `trace --step N` shows one whole."""


def _first(record: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = record.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _content(message: Any) -> str:
    if isinstance(message, dict):
        message = message.get("content", "")
    if isinstance(message, list):  # content blocks
        return " ".join(_content(part) if not isinstance(part, str) else part for part in message)
    return message if isinstance(message, str) else str(message or "")


def _source_line(source: Any) -> str:
    if not isinstance(source, dict):
        return str(source)
    ref = _first(source, "ref", "url", "id", "source", "title") or "?"
    kind = source.get("kind")
    score = source.get("score")
    text = f"{kind} {ref}" if kind else str(ref)
    return f"{text} ({score:.2f})" if isinstance(score, (int, float)) else text


def _evidence_line(record: Any) -> str:
    if not isinstance(record, dict) or "culture" not in record:
        return _source_line(record)
    candidates = record.get("candidates") or []
    if not record.get("usable", True) or not candidates:
        return f"evidence {record['culture']}: none close enough"
    best = candidates[0]
    text = best.get("english") or best.get("text") or "?"
    score = best.get("score")
    tail = f" ({score:.2f})" if isinstance(score, (int, float)) else ""
    wording, confidence = record.get("wording"), record.get("confidence")
    if wording:  # how the reply stated it, and how sure the lead is
        sure = f", confidence {confidence:.2f}" if isinstance(confidence, (int, float)) else ""
        tail += f" [{wording}{sure}]"
    return f"evidence {record['culture']}: {shorten(str(text), 40)}{tail}"


def summarize_turns(steps: list[TraceStep]) -> list[TurnSummary]:
    """One summary per turn, in order."""
    by_turn: dict[int, list[TraceStep]] = {}
    for step in steps:
        by_turn.setdefault(step.turn, []).append(step)
    summaries = []
    for turn, turn_steps in by_turn.items():
        wrote: dict[str, dict[str, Any]] = {}
        for step in turn_steps:  # a node that ran several times (experts): merge its writes
            merged = wrote.setdefault(step.node, {})
            for key, value in step.wrote.items():
                if isinstance(value, list) and isinstance(merged.get(key), list):
                    merged[key] = [*merged[key], *value]
                else:
                    merged[key] = value
        detect = wrote.get("detect", {})
        message = _first(detect, "text")
        if message is None and turn_steps[0].read.get("messages"):
            message = _content(turn_steps[0].read["messages"][-1])
        query = _first(detect, "query")
        if message is None:
            message = query
        posterior = detect.get("posterior") or {}
        scored = [
            (str(c.get("id")), float(c.get("p", 0.0))) for c in posterior.get("cultures") or []
        ]
        cultures = [c for i, c in enumerate(scored) if i == 0 or c[1] >= SUMMARY_MIN_P]
        task = detect.get("task")
        experts: list[tuple[str, float | None]] = [
            (str(e.get("id")), e.get("weight")) for e in wrote.get("route", {}).get("experts") or []
        ]
        if not experts:
            experts = [
                (str(a.get("expert_id")), a.get("weight"))
                for a in wrote.get("expert", {}).get("expert_answers") or []
            ]
        respond = wrote.get("respond", {})
        aggregate = wrote.get("aggregate", {})
        answer = _first(respond, "short") or _first(aggregate, "answer")
        if answer is None and respond.get("messages"):
            answer = _content(respond["messages"][-1])
        sources = [_source_line(s) for s in wrote.get("retrieve", {}).get("sources") or []]
        for node_wrote in wrote.values():  # ranked human answers per culture, where recorded
            sources += [_evidence_line(e) for e in node_wrote.get("evidence") or []]
        summaries.append(
            TurnSummary(
                turn=turn,
                message=str(message or ""),
                read_as=str(query) if query and query != message else None,
                cultures=cultures[:SUMMARY_MAX_CULTURES],
                flags=[flag for flag in ("ambiguous", "unknown") if posterior.get(flag)],
                task=task.get("name") if isinstance(task, dict) else task,
                experts=experts,
                answer=_content(answer),
                wording=aggregate.get("wording"),
                confidence=aggregate.get("confidence"),
                sources=sources,
                notes=[n for w in wrote.values() for n in w.get("notes") or [] if n != NEW_TURN],
                nodes=[(s.index, s.node, s.seconds) for s in turn_steps],
            )
        )
    return summaries


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters (whitespace collapsed)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
