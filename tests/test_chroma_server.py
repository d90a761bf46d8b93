"""The same retrieval checks through `HttpClient` against a real `chroma run` server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from manyshores.config import Settings
from manyshores.errors import RetrievalError
from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.testing.chroma_server import ChromaServer, ChromaServerUnavailable
from tests.kb_checks import ALL_CHECKS, CORPUS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    try:
        srv.start()
    except ChromaServerUnavailable as exc:
        print(f"chroma server unavailable: {exc}")
        pytest.skip(f"`chroma run` could not start: {exc}")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kb(server: ChromaServer, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    settings = Settings(home=tmp_path_factory.mktemp("home"), chroma_url=server.url)
    kb = KnowledgeBase.open(settings)
    assert kb.location == server.url
    return kb


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_retrieval_server(kb, check):
    check(kb)


def test_killed_server_gives_clear_error_not_hang(tmp_path):
    with ChromaServer(tmp_path / "data") as srv:
        kb = KnowledgeBase.open(Settings(home=tmp_path, chroma_url=srv.url), timeout_s=3)
        kb.add(CORPUS[:2])
        assert kb.query("breakfast", {"KEN": 1.0}, k=1)
    # The server is gone (mid-session): the next query fails fast with a clear error.
    start = time.perf_counter()
    with pytest.raises(RetrievalError, match=srv.url):
        kb.query("breakfast", {"KEN": 1.0}, k=1)
    assert time.perf_counter() - start < 10


def test_hung_server_times_out(tmp_path):
    import os
    import signal

    with ChromaServer(tmp_path / "data") as srv:
        kb = KnowledgeBase.open(Settings(home=tmp_path, chroma_url=srv.url), timeout_s=2)
        kb.add(CORPUS[:2])
        assert srv.pid is not None
        os.kill(srv.pid, signal.SIGSTOP)  # alive but not answering
        try:
            start = time.perf_counter()
            with pytest.raises(RetrievalError, match="query failed"):
                kb.query("breakfast", {"KEN": 1.0}, k=1)
            assert time.perf_counter() - start < 10
        finally:
            os.kill(srv.pid, signal.SIGCONT)


def test_unreachable_server_on_open(tmp_path):
    from manyshores.testing.chroma_server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RetrievalError, match="127.0.0.1"):
        KnowledgeBase.open(Settings(home=tmp_path, chroma_url=url), timeout_s=2)
