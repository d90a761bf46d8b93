"""The graph as `langgraph dev` serves it (see `langgraph.json`).

The LangGraph server brings its own checkpointer and store, so this exports the uncompiled-then-
compiled graph without one. Heavy components load on the first request, not at import.
"""

from __future__ import annotations

from manyshores.graph.builder import compile_graph

graph = compile_graph()
