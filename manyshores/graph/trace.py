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
