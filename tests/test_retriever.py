"""CulturalRetriever: memory + web behind the graph's `Retriever` protocol."""

from __future__ import annotations

from pydantic import SecretStr

from manyshores.config import Settings
from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.memory.retriever import CulturalRetriever
from manyshores.state import CulturePosterior
from manyshores.testing.tavily_server import TavilyTestServer
from manyshores.web.sanitize import format_context_block
from tests.kb_checks import CORPUS

POSTERIOR = CulturePosterior(
    cultures=[{"id": "KEN", "p": 0.9}, {"id": "TZA", "p": 0.1}],
    ambiguous=False,
    unknown=False,
    signals=[],
)


def test_retrieve_memory_and_web(tmp_path):
    with TavilyTestServer() as server:
        settings = Settings(
            home=tmp_path,
            tavily_api_key=SecretStr("tvly-test"),
            tavily_base_url=server.url,
            web_timeout_s=1.0,
            retrieval_k=2,
            retrieval_min_similarity=0.0,
        )
        kb = KnowledgeBase.open(settings)
        kb.add(CORPUS)
        retriever = CulturalRetriever.from_settings(settings, kb=kb)
        sources, notes = retriever.retrieve("What is breakfast like?", POSTERIOR)
        assert notes == []
        memory = [s for s in sources if s["kind"] == "memory"]
        web = [s for s in sources if s["kind"] == "web"]
        assert memory and all(s["culture"] == "KEN" for s in memory)
        assert web and web[0]["ref"].startswith("https://") and web[0]["culture"] == "KEN"
        assert server.requests[0]["country"] == "kenya"
        block = format_context_block(sources)
        assert "chai" in block and block.count("\n> ") == len(sources)

        # Tavily failing: the turn goes on with memory only and a note saying why.
        server.mode = "401"
        retriever.web.cache = None  # type: ignore[union-attr]
        sources, notes = retriever.retrieve("What is dinner like?", POSTERIOR)
        assert sources and all(s["kind"] == "memory" for s in sources)
        assert any("401" in n for n in notes)


def test_retrieve_degrades_without_store_or_key(tmp_path):
    (tmp_path / "chroma").write_text("not a directory")
    retriever = CulturalRetriever.from_settings(Settings(home=tmp_path, tavily_api_key=None))
    sources, notes = retriever.retrieve("breakfast", POSTERIOR)
    assert sources == []
    assert any("knowledge base unavailable" in n for n in notes)
    assert any("no Tavily API key" in n for n in notes)


def test_off_topic_passages_are_left_out_with_a_note(tmp_path):
    settings = Settings(home=tmp_path, tavily_api_key=None, retrieval_k=4)
    kb = KnowledgeBase.open(settings)
    kb.add(CORPUS)
    retriever = CulturalRetriever.from_settings(settings, kb=kb, use_web=False)
    loose = CulturalRetriever.from_settings(
        settings.model_copy(update={"retrieval_min_similarity": 0.0}), kb=kb, use_web=False
    )
    query = "What is breakfast like?"
    kept, notes = retriever.retrieve(query, POSTERIOR)
    everything, _ = loose.retrieve(query, POSTERIOR)
    assert all(s["score"] >= settings.retrieval_min_similarity for s in kept)
    assert len(kept) < len(everything)
    assert any("left out" in n for n in notes)
