"""The culture graph as a node of your own LangGraph app whose state has a `messages` key."""

from __future__ import annotations

from typing import Annotated, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from manyshores.graph import compile_graph


class AppState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    reviewed: bool


def review(state: AppState) -> dict:
    # Your own logic after manyshores answered: here, just mark the answer as seen.
    return {"reviewed": bool(state["messages"][-1].content)}


def build_app(components=None):
    app = StateGraph(AppState)
    app.add_node("culture", compile_graph(components))  # a compiled graph is a valid node
    app.add_node("review", review)
    app.add_edge(START, "culture")
    app.add_edge("culture", "review")
    app.add_edge("review", END)
    return app.compile()


if __name__ == "__main__":
    out = build_app().invoke(
        {"messages": [HumanMessage(content="I'm from Spain. When do we eat dinner?")]}
    )
    print(out["messages"][-1].content, "| reviewed:", out["reviewed"])
