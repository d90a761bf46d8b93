"""Reading a thread back from its checkpoints: the ordered steps, each with what it read and wrote.

Only checkpoints are read (no side channel): durations come from the `steps` records each node
writes into the state, inputs from the snapshot the step started from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.state import NEW_TURN

# The state keys each node reads, for showing "what it read" without a side channel.
NODE_READS: dict[str, tuple[str, ...]] = {
    "detect": ("messages", "culture_override", "user_id", "history", "confirm_culture"),
    "retrieve": ("text", "posterior"),
    "route": ("posterior", "task"),
    "expert": ("text", "task", "sources"),
    "aggregate": ("expert_answers", "task"),
    "respond": ("answer", "posterior", "task", "user_id"),
}


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
    """Checkpoint the step started from: fork here to replay it with other inputs."""
    created_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "type") and hasattr(value, "content"):  # a langchain message
        return {"type": value.type, "content": value.content}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _read_view(values: dict[str, Any], node: str) -> dict[str, Any]:
    view = {k: values.get(k) for k in NODE_READS.get(node, ()) if k in values}
    if "messages" in view:  # the newest message is what a node reads; the rest is history
        msgs = view["messages"] or []
        view["messages"] = _jsonable(msgs[-1:])
        view["messages_count"] = len(msgs)
    return _jsonable(view)


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


def read_trace(graph: Any, thread_id: str) -> list[TraceStep]:
    config = {"configurable": {"thread_id": thread_id}}
    steps: list[TraceStep] = []
    snapshots = branch_snapshots(graph, config)
    for snap, child in zip(snapshots, [*snapshots[1:], None]):
        if child is not None and (child.metadata or {}).get("source") == "update":
            continue  # this snapshot's writes went to the branch a fork replaced
        for task in snap.tasks:
            if task.name.startswith("__") or task.result is None:
                continue
            wrote = dict(task.result)
            if wrote.get("notes") and wrote["notes"][0] == NEW_TURN:
                wrote["notes"] = wrote["notes"][1:]
            records = wrote.pop("steps", None) or [{}]
            record = records[0]
            read = _read_view(snap.values, task.name)
            if task.name == "expert":
                read["experts"] = [a.get("expert_id") for a in wrote.get("expert_answers") or []]
            steps.append(
                TraceStep(
                    index=len(steps),
                    turn=int(record.get("turn", snap.values.get("turn", 0))),
                    node=task.name,
                    seconds=float(record.get("seconds", 0.0)),
                    read=read,
                    wrote=_jsonable(wrote),
                    checkpoint_id=snap.config["configurable"]["checkpoint_id"],
                    created_at=snap.created_at,
                )
            )
    return steps
