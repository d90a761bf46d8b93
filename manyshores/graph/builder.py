"""Assembling the state machine: detect → retrieve → route → expert ×k → aggregate → respond."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph

from manyshores import telemetry
from manyshores.components import Components
from manyshores.graph.spans import NODE_SPANS
from manyshores.graph.trace import read_view, wrote_view
from manyshores.nodes.aggregate import make_aggregate
from manyshores.nodes.detect import make_detect
from manyshores.nodes.expert import make_expert
from manyshores.nodes.respond import make_respond
from manyshores.nodes.retrieve import make_retrieve
from manyshores.nodes.route import fan_out, make_route
from manyshores.state import CultureState

NODE_ORDER = ("detect", "retrieve", "route", "expert", "aggregate", "respond")


def _timed(name: str, fn: Callable[[Any], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Wrap a node so it records its duration, what it read and what it wrote in the state:
    traces read only checkpoints, and a turn needs no checkpoint per step. The same record
    becomes an OpenTelemetry span when export is on (`manyshores.telemetry`, as the node's
    entry in `spans.NODE_SPANS` says)."""

    span = NODE_SPANS.get(name, telemetry.CHAIN)

    # `config` in the signature makes LangGraph pass the run's config (the thread id).
    def node(state: Any, config: RunnableConfig) -> dict[str, Any]:
        start_ns = telemetry.now_ns()
        start = time.perf_counter()
        try:
            update = fn(state)
        except GraphBubbleUp:  # an interrupt, not a failure: the node runs again on resume
            raise
        except Exception as exc:
            seconds = round(time.perf_counter() - start, 6)
            failed = {"node": name, "seconds": seconds, "turn": state.get("turn", 0)}
            failed["read"] = read_view(state, name)
            telemetry.record_node(
                name, state, {}, failed, config, start_ns, telemetry.now_ns(), exc, spec=span
            )
            raise
        seconds = round(time.perf_counter() - start, 6)
        turn = update.get("turn", state.get("turn", 0))
        record = {
            "node": name,
            "seconds": seconds,
            "turn": turn,
            "read": read_view(state, name),
            "wrote": wrote_view(update),
        }
        update["steps"] = [record]
        telemetry.record_node(
            name, state, update, record, config, start_ns, telemetry.now_ns(), spec=span
        )
        return update

    node.__name__ = name
    return node


def build_graph(components: Components | None = None) -> Any:
    """The uncompiled graph; compile it with a checkpointer, or add it to your own graph."""
    components = components or Components()
    makers = {
        "detect": make_detect,
        "retrieve": make_retrieve,
        "route": make_route,
        "expert": make_expert,
        "aggregate": make_aggregate,
        "respond": make_respond,
    }
    graph: Any = StateGraph(CultureState)
    for name in NODE_ORDER:
        graph.add_node(name, _timed(name, makers[name](components)))
    graph.add_edge(START, "detect")
    graph.add_edge("detect", "retrieve")
    graph.add_edge("retrieve", "route")
    graph.add_conditional_edges("route", fan_out, ["expert", "aggregate"])
    graph.add_edge("expert", "aggregate")
    graph.add_edge("aggregate", "respond")
    graph.add_edge("respond", END)
    return graph


def compile_graph(
    components: Components | None = None, checkpointer: Any = None, store: Any = None
) -> Any:
    """A compiled graph (a LangChain Runnable). Without a checkpointer it runs stateless, or
    inherits its parent's checkpointer when used as a subgraph."""
    return build_graph(components).compile(checkpointer=checkpointer, store=store)
