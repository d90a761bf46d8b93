"""The compiled culture graph as one step of an LCEL chain."""

from __future__ import annotations

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda

from manyshores.graph import compile_graph


def build_chain(components=None):
    graph = compile_graph(components)  # stateless: no checkpointer needed inside a chain
    to_state = RunnableLambda(lambda q: {"messages": [HumanMessage(content=q)]})
    to_answer = RunnableLambda(
        lambda s: {"answer": s["answer"], "culture": s["posterior"]["cultures"][:1]}
    )
    return to_state | graph | to_answer


if __name__ == "__main__":
    print(build_chain().invoke("In Mexico, what do families eat on Christmas Eve?"))
