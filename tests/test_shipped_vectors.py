"""The prebuilt passage vectors: they cover the shipped passages, equal the embedder's own
vectors, and a missing or corrupt file only means embedding as before."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from manyshores.config import Settings
from manyshores.memory.embeddings import embed
from manyshores.memory.ingest import load_blend, load_wvs
from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.memory.seed import BLEND_DIR, WVS_DIR, seed_default
from manyshores.memory.shipped_vectors import ShippedVectors, write_shipped_vectors
from manyshores.passages import Document
from tests.seed_data import small_seed_data


@pytest.fixture(scope="module")
def shipped() -> ShippedVectors:
    return ShippedVectors.load()


@pytest.fixture(scope="module")
def needing() -> list[Document]:
    """The shipped passages indexed by their own text (built once for this module)."""
    return [d for d in [*load_wvs(WVS_DIR), *load_blend(BLEND_DIR)] if d.vector is None]


def test_every_shipped_passage_has_a_prebuilt_vector(shipped, needing):
    missing = [d.text[:60] for d in needing if shipped.vector(d.text) is None]
    # Stale vectors would only cost time, but a stale file after a data change should be seen.
    assert not missing, f"{len(missing)} passages lack a vector; rebuild: {missing[:3]}"
    assert len(needing) > 10_000


def test_prebuilt_vectors_equal_the_embedders(shipped, needing):
    picks = np.random.default_rng(0).choice(len(needing), 24, replace=False)
    sample = [needing[i].text for i in picks]
    fresh = np.asarray(embed(sample))
    prebuilt = np.asarray([shipped.vector(t) for t in sample])
    cosine = (fresh * prebuilt).sum(1) / np.linalg.norm(prebuilt, axis=1)
    assert cosine.min() > 0.999


def test_seed_uses_prebuilt_vectors_and_retrieves_as_embedded(tmp_path):
    blend, wvs = small_seed_data(tmp_path)
    prebuilt = KnowledgeBase.open(Settings(home=tmp_path / "a"))
    report = seed_default(prebuilt, Settings(home=tmp_path / "a"), wvs_dir=wvs, blend_dir=blend)
    assert [s["not_prebuilt"] for s in report["sources"]] == [0, 0]
    # The same documents embedded here find the same passages, in the same order.
    embedded = KnowledgeBase.open(Settings(home=tmp_path / "b"))
    embedded.add([*load_wvs(wvs), *load_blend(blend)])
    for query, culture in (("breakfast food", "USA"), ("popular sport", "KOR")):
        a = prebuilt.query(query, {culture: 1.0}, k=4)
        b = embedded.query(query, {culture: 1.0}, k=4)
        assert [p.id for p in a] == [p.id for p in b]
        assert [p.score for p in a] == pytest.approx([p.score for p in b], abs=2e-3)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a numpy file at all"])
def test_corrupt_vectors_file_means_embedding(tmp_path, caplog, content):
    path = tmp_path / "vectors.npz"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        broken = ShippedVectors.load(path)
    assert len(broken) == 0 and "will be embedded" in caplog.text
    doc = Document("Rice is eaten every day.", "JPN", "t#1")
    assert list(broken.fill([doc])) == [doc] and doc.vector is None


def test_written_vectors_round_trip(tmp_path):
    docs = [Document("Tea with milk.", "KEN", "a#1"), Document("Injera and wat.", "ETH", "a#2")]
    path = tmp_path / "v.npz"
    assert write_shipped_vectors(docs, path) == 2
    loaded = ShippedVectors.load(path)
    filled = list(loaded.fill(docs))
    assert all(d.vector is not None for d in filled)
    expected = np.asarray(embed([docs[0].text])[0])
    assert np.abs(np.asarray(filled[0].vector) - expected).max() < 1e-3
    assert loaded.vector("Some other text.") is None


def test_shipped_survey_questions_need_no_embedding(tmp_path, monkeypatch):
    from manyshores.survey import memory as survey_memory
    from manyshores.survey.memory import SurveyMemory, question_text

    memory = SurveyMemory.from_package(user_store=False)
    memory.vector_cache = tmp_path / "cache"
    texts = [question_text(*memory.questions[q]) for q in memory.questions]
    sample = [0, len(texts) // 2, len(texts) - 1]
    fresh = np.asarray(embed([texts[i] for i in sample]))

    def no_embedding(texts: list[str]) -> list[list[float]]:
        raise AssertionError("the shipped survey questions were embedded")

    monkeypatch.setattr("manyshores.memory.embeddings.embed", no_embedding)
    memory._embed_all()
    got = np.stack([memory._vectors[list(memory.questions)[i]] for i in sample])
    assert np.abs(got - fresh).max() < 1e-5  # the shipped file is float32, as computed
    assert not (tmp_path / "cache").exists()  # nothing written: read from the package
    assert survey_memory.vector_file_name(texts).startswith("survey-vectors-")
