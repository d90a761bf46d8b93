"""The three ways to embed manyshores in LangChain apps, each through its runnable example."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from examples.chat_model import build_chain as chat_model_chain
from examples.lcel_chain import build_chain as lcel_chain
from examples.subgraph import build_app
from manyshores.graph import CultureChatModel
from tests.graph_fixtures import tiny_components


@pytest.fixture()
def components(tiny_base, tmp_path):
    return tiny_components(tiny_base, tmp_path, max_new_tokens=8)


def test_graph_as_runnable_in_lcel_chain(components):
    out = lcel_chain(components).invoke("I'm from Greece. What do we eat at Easter?")
    assert set(out) == {"answer", "culture"}
    assert out["culture"][0]["id"] == "GRC"


def test_graph_as_subgraph_node_of_user_graph(components):
    app = build_app(components)
    out = app.invoke({"messages": [HumanMessage(content="I'm from Spain. When do we eat dinner?")]})
    assert [m.type for m in out["messages"]] == ["human", "ai"]
    assert out["messages"][-1].response_metadata["cultures"][0]["id"] == "ESP"
    assert out["reviewed"] in (True, False)
    assert "posterior" not in out  # only the shared `messages` key flows back to the host


def test_chat_model_invoke_stream_batch(components):
    chain = chat_model_chain(components)
    single = chain.invoke({"question": "I'm from Kenya. What is a typical breakfast?"})
    assert isinstance(single, str)
    pieces = list(chain.stream({"question": "I'm from Kenya. What is a typical breakfast?"}))
    assert "".join(pieces) == single  # greedy decoding: streaming gives the same answer
    many = chain.batch([{"question": "I live in Spain."}, {"question": "I'm from Mexico."}])
    assert len(many) == 2 and all(isinstance(m, str) for m in many)


def test_chat_model_carries_culture_metadata(components):
    model = CultureChatModel(components=components)
    message = model.invoke([HumanMessage(content="I'm from Mexico. What do we eat at Christmas?")])
    assert message.response_metadata["cultures"][0]["id"] == "MEX"
    forced = CultureChatModel(components=components, culture="KEN").invoke("What do we eat?")
    assert forced.response_metadata["cultures"][0]["id"] == "KEN"


def test_langgraph_json_points_at_a_compiled_graph():
    import importlib.util
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec_text = json.loads((root / "langgraph.json").read_text())["graphs"]["manyshores"]
    path, attr = spec_text.split(":")
    spec = importlib.util.spec_from_file_location("lg_server", root / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # must not load any model at import
    graph = getattr(module, attr)
    assert set(graph.get_graph().nodes) >= {
        "detect",
        "retrieve",
        "route",
        "expert",
        "aggregate",
        "respond",
    }
