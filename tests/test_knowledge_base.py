"""The knowledge base on embedded Chroma: retrieval, persistence, failures, ingest, CLI, eval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from manyshores.config import Settings
from manyshores.errors import InvalidInputError, RetrievalError
from manyshores.memory.ingest import blend_documents, load_path, load_wvs
from manyshores.memory.knowledge_base import KnowledgeBase
from tests.kb_checks import ALL_CHECKS, CORPUS


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase.open(Settings(home=tmp_path_factory.mktemp("kb-home")))


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_retrieval_embedded(kb, check):
    check(kb)  # the first check fills the store; later ones read it


def test_new_process_reopens_with_registered_embedding_function(tmp_path):
    home = tmp_path / "home"
    KnowledgeBase.open(Settings(home=home)).add(CORPUS[:3])
    # A fresh interpreter opens the collection WITHOUT passing an embedding function and queries
    # by text: Chroma must rebuild ours from the stored config, never its downloading default.
    script = textwrap.dedent(f"""
        import chromadb
        from chromadb.api import types
        from chromadb.config import Settings
        def boom(self, input):
            raise SystemExit("Chroma fell back to its default embedding function")
        types.DefaultEmbeddingFunction.__call__ = boom
        import manyshores.memory.chroma_embedding  # registers the embedding function
        client = chromadb.PersistentClient({str(home / "chroma")!r},
                                           settings=Settings(anonymized_telemetry=False))
        col = client.get_collection("manyshores--JPN")
        ef = col.configuration["embedding_function"]
        assert type(ef).__name__ == "ManyshoresMiniLM", ef
        res = col.query(query_texts=["miso soup"], n_results=1)
        print(res["documents"][0][0])
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "miso" in out.stdout


def test_corrupt_store_names_the_path(tmp_path):
    chroma = tmp_path / "chroma"
    chroma.mkdir()
    (chroma / "chroma.sqlite3").write_bytes(os.urandom(4096))
    with pytest.raises(RetrievalError, match=str(chroma)):
        KnowledgeBase.open(Settings(home=tmp_path))


def test_store_path_is_a_file(tmp_path):
    (tmp_path / "chroma").write_text("not a dir")
    with pytest.raises(RetrievalError, match="not a directory"):
        KnowledgeBase.open(Settings(home=tmp_path))


# --------------------------------------------------------------------------- ingest
def test_load_path_formats(tmp_path):
    (tmp_path / "a.md").write_text("# Food\nKenyans eat ugali.\n\n# Music\nBenga is popular.\n")
    (tmp_path / "b.txt").write_text("First paragraph.\n\nSecond paragraph.")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"text": "Chai is sweet.", "culture": "TZA", "source": "s1"}) + "\n"
    )
    docs = list(load_path(tmp_path, "KEN"))
    kinds = {d.kind for d in docs}
    assert kinds == {"markdown", "text", "jsonl"}
    assert any(d.culture == "TZA" and d.source == "s1" for d in docs)
    assert any(d.text.startswith("Food.") for d in docs)
    with pytest.raises(InvalidInputError, match="--culture"):
        list(load_path(tmp_path / "b.txt", None))


def test_blend_and_wvs_documents(test_data):
    rows = json.loads((test_data / "blend" / "Algeria.json").read_text())
    docs = blend_documents(rows[0], "Algeria.json")
    en, local = docs
    assert en.culture == "DZA" and en.question_id == rows[0]["id"] and en.lang == "en"
    assert "jam sandwiches" in en.text and "Algeria" in en.text
    assert local.lang == "ar"
    assert blend_documents(rows[0], "Algeria.json")[0].id == en.id  # stable ids
    from manyshores.paths import PACKAGE_WVS

    wvs = list(load_wvs(PACKAGE_WVS))  # the WVS train split shipped in the package
    assert {d.kind for d in wvs} == {"survey"}
    ken = next(d for d in wvs if d.culture == "KEN")
    assert "Kenya" in ken.text and "%" in ken.text and ken.source.startswith("wvs7:KEN:")


# --------------------------------------------------------------------------- CLI + eval
def test_cli_ingest_query_stats_eval(tmp_path, monkeypatch):
    import manyshores.cli.kb  # noqa: F401  (registers the kb/eval/bench commands)
    from manyshores.cli.app import app
    from manyshores.config import get_settings

    monkeypatch.setenv("MANYSHORES_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        notes = tmp_path / "kenya.md"
        notes.write_text("# Breakfast\nKenyan families drink chai with mandazi.\n")
        runner = CliRunner()
        res = runner.invoke(app, ["kb", "ingest", str(notes), "--culture", "KEN"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["ingested"][0]["added"] == 1
        res = runner.invoke(app, ["kb", "ingest", str(notes), "--culture", "KEN"])
        assert json.loads(res.stdout)["ingested"][0]["added"] == 0
        res = runner.invoke(app, ["kb", "query", "breakfast drink", "--culture", "KEN", "--json"])
        assert res.exit_code == 0, res.output
        [hit] = json.loads(res.stdout)
        assert set(hit) == {"id", "culture", "source", "text", "score"}
        assert hit["culture"] == "KEN"
        res = runner.invoke(app, ["kb", "stats"])
        assert json.loads(res.stdout)["cultures"] == {"KEN": 1}

        data = tmp_path / "q.jsonl"
        data.write_text(
            "\n".join(
                json.dumps(r)
                for r in [
                    {"id": "a", "text": "morning drink", "culture": "KEN"},
                    {"id": "b", "text": "breakfast", "culture": "JPN"},
                ]
            )
        )
        out = tmp_path / "pred.jsonl"
        res = runner.invoke(app, ["eval", "kb", "--data", str(data), "--out", str(out), "--k", "2"])
        assert res.exit_code == 0, res.output
        preds = [json.loads(line) for line in out.read_text().splitlines()]
        assert [p["id"] for p in preds] == ["a", "b"]
        assert preds[0]["hits"][0]["culture"] == "KEN"
        assert set(preds[0]["hits"][0]) == {"culture", "source", "text", "score"}
        assert preds[1]["hits"] == []  # no JPN documents
    finally:
        get_settings.cache_clear()


def test_blend_scorer(tmp_path, kb):
    from manyshores.eval.runners.kb import score_blend

    row = {
        "id": "q1",
        "culture": "KEN",
        "question": "x",
        "en_question": "What is drunk at breakfast?",
        "annotations": [{"answers": ["chai"], "en_answers": ["chai"], "count": 3}],
    }
    blend = tmp_path / "blend"
    blend.mkdir()
    (blend / "Kenya.json").write_text(json.dumps([row]))
    hit = {"id": "KEN:q1", "hits": [{"text": "They drink chai.", "culture": "KEN"}]}
    miss = {"id": "KEN:q1", "hits": [{"text": "They drink chainsaw oil.", "culture": "KEN"}]}
    assert score_blend([hit], blend)["per_culture"] == {"KEN": 1.0}
    assert score_blend([miss], blend)["per_culture"] == {"KEN": 0.0}  # word boundaries


def test_blend_groups_cover_related_questions():
    from manyshores.memory.ingest import blend_group_document, group_questions

    texts = {
        "a": "What is a common breakfast food?",
        "b": "What do people usually eat for breakfast?",
        "c": "Which sport is most popular?",
        "d": "What is the favourite team sport?",
    }
    groups = group_questions(texts, size=2)
    assert sorted(map(sorted, groups)) == [["a", "b"], ["c", "d"]]
    rows = [
        {
            "id": q,
            "culture": "KEN",
            "en_question": texts[q],
            "annotations": [{"en_answers": [f"ans-{q}"], "answers": [f"ans-{q}"], "count": 1}],
        }
        for q in ("a", "b")
    ]
    doc = blend_group_document(rows, "Kenya.json")
    assert doc is not None and doc.group_ids == ("a", "b")
    assert "ans-a" in doc.text and "ans-b" in doc.text
    assert doc.metadata()["g1"] == "b"


# --------------------------------------------------------------------------- topic digests
def _row(qid: str, question: str, answers: list[tuple[str, int]], culture: str = "KEN") -> dict:
    return {
        "id": qid,
        "culture": culture,
        "blend_name": "Kenya",
        "language": "sw",
        "question": question,
        "en_question": question,
        "annotations": [{"answers": [a], "en_answers": [a], "count": c} for a, c in answers],
    }


def test_query_text_strips_the_filtered_cultures_names():
    from manyshores.memory.knowledge_base import query_text

    assert query_text("What is the most popular fruit in Algeria?", {"DZA": 1.0}) == (
        "What is the most popular fruit?"
    )
    assert query_text("Who is the best player in the US?", {"USA": 1.0, "GBR": 0.5}) == (
        "Who is the best player?"
    )
    assert query_text("Fruit in Algeria?", None) == "Fruit in Algeria?"  # unfiltered: unchanged


def test_blend_digest_ranks_answers_and_fits_the_snippet():
    from manyshores.memory.ingest import DIGEST_CHARS, blend_digest_document, cluster_questions

    rows = [
        _row("a", "What is eaten for breakfast in Kenya?", [("chai", 5), ("mandazi", 2)]),
        _row("b", "What is a common snack in Kenya?", [("mandazi", 1), ("samosa", 4)]),
        _row(
            "c",
            "What is drunk in the morning in Kenya?",
            [("chai", 1)] + [(f"drink {i}", 1) for i in range(80)],
        ),
    ]
    doc = blend_digest_document(rows, "Kenya.json", [1.0, 0.0])
    assert doc is not None and doc.kind == "blend-digest" and doc.culture == "KEN"
    assert doc.members == ("a", "b", "c") and doc.metadata()["members"] == ["a", "b", "c"]
    assert doc.vector == (1.0, 0.0)
    # chai (3 questions) before mandazi (2) before samosa (1, but 4 votes) before the rest
    assert doc.text.index("chai") < doc.text.index("mandazi") < doc.text.index("samosa")
    assert len(doc.text) <= DIGEST_CHARS and "drink 79" not in doc.text
    texts = {
        "a": "What is eaten for breakfast?",
        "b": "What do people eat in the morning?",
        "c": "Which sport is most popular?",
        "d": "What is the favourite team sport?",
    }
    clusters = cluster_questions(texts, size=2)
    assert sorted(sorted(ids) for ids, _ in clusters) == [["a", "b"], ["c", "d"]]
    assert all(abs(sum(v * v for v in centre) - 1.0) < 1e-4 for _, centre in clusters)


def test_load_blend_digests_only_from_the_given_questions(tmp_path):
    from manyshores.memory.ingest import load_blend

    blend = tmp_path / "blend"
    blend.mkdir()
    rows = [
        _row("a", "What is eaten for breakfast in Kenya?", [("chai", 5)]),
        _row("b", "What do people eat in the morning in Kenya?", [("mandazi", 2)]),
        _row("c", "What is a breakfast drink in Kenya?", [("uji", 2)]),
    ]
    (blend / "Kenya.json").write_text(json.dumps(rows))
    docs = list(load_blend(blend))
    digests = [d for d in docs if d.kind == "blend-digest"]
    assert digests and all(d.vector is not None for d in digests)
    docs = list(load_blend(blend, question_ids={"a", "b"}))
    assert {d.question_id for d in docs if d.kind == "blend"} == {"a", "b"}
    assert all("c" not in d.members and "uji" not in d.text for d in docs)


def test_blend_folds_never_see_the_asked_question_and_ceiling(tmp_path):
    from manyshores.eval.runners.kb import blend_answer_ceiling, evaluate_blend_folds, score_blend

    blend = tmp_path / "blend"
    blend.mkdir()
    rows = [
        _row("a", "What is eaten for breakfast in Kenya?", [("chai", 5), ("bread", 1)]),
        _row("b", "What do people eat in the morning in Kenya?", [("chai", 2)]),
        _row("c", "What is a breakfast drink in Kenya?", [("uji", 2)]),
        _row("d", "What is the favourite sport in Kenya?", [("running", 3)]),
        _row("e", "Which sport do children play in Kenya?", [("football", 3), ("running", 1)]),
    ]
    (blend / "Kenya.json").write_text(json.dumps(rows))
    preds = list(evaluate_blend_folds(blend, folds=2, k=5))
    assert sorted(p["id"] for p in preds) == [f"KEN:{q}" for q in "abcde"]
    for p in preds:
        qid = p["id"].split(":")[1]
        assert all(not h["source"].endswith(f"#{qid}") for h in p["hits"])
    assert set(score_blend(preds, blend)["per_culture"]) == {"KEN"}
    # a, b (chai), d, e (running) have an answer among the others' annotations; c (uji) not
    assert blend_answer_ceiling(blend)["per_culture"] == {"KEN": 0.8}


def test_vector_indexes_are_kept_on_disk_for_the_next_process(tmp_path):
    """Chroma's default writes an index to disk only after 1000 new vectors, so a collection of
    a few hundred was rebuilt from Chroma's log by every new process. New collections write
    theirs every `HNSW_SYNC_THRESHOLD` vectors; an older store is changed on first use."""
    from manyshores.memory.knowledge_base import HNSW_SYNC_THRESHOLD
    from manyshores.passages import Document

    home = tmp_path / "home"
    docs = [
        Document(text=f"Passage {i} about local food number {i}.", culture="JPN", source=f"t#{i}")
        for i in range(HNSW_SYNC_THRESHOLD * 2 + 10)
    ]
    kb = KnowledgeBase.open(Settings(home=home))
    kb.add(docs)
    col = kb._collection("JPN")
    assert col.configuration_json["hnsw"]["sync_threshold"] == HNSW_SYNC_THRESHOLD

    # A store made with Chroma's default threshold, as before (in another process, as a
    # store made earlier is: this one's Chroma would keep the index it loaded to add them).
    old_home = tmp_path / "old"
    script = textwrap.dedent(f"""
        import chromadb
        from chromadb.config import Settings
        from manyshores.memory.chroma_embedding import ManyshoresMiniLM
        client = chromadb.PersistentClient({str(old_home / "chroma")!r},
                                           settings=Settings(anonymized_telemetry=False))
        col = client.create_collection("manyshores--JPN", embedding_function=ManyshoresMiniLM(),
            configuration={{"hnsw": {{"space": "cosine"}}}}, metadata={{"culture": "JPN"}})
        assert col.configuration_json["hnsw"]["sync_threshold"] > {HNSW_SYNC_THRESHOLD}
        texts = {[d.text for d in docs]!r}
        col.add(ids=[f"d{{i}}" for i in range(len(texts))], documents=texts)
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    sizes = [p.stat().st_size for p in (old_home / "chroma").rglob("data_level0.bin")]
    assert max(sizes) < 1500 * HNSW_SYNC_THRESHOLD * 2  # the index was not written whole
    reopened = KnowledgeBase.open(Settings(home=old_home))
    assert reopened.persist_indexes() == 1
    col = reopened._collection("JPN")
    assert col.configuration_json["hnsw"]["sync_threshold"] == HNSW_SYNC_THRESHOLD
    # The index on disk now holds the vectors (Chroma writes ~1.6 KB a vector of 384 floats).
    sizes = [p.stat().st_size for p in (old_home / "chroma").rglob("data_level0.bin")]
    assert sizes and max(sizes) >= 1500 * HNSW_SYNC_THRESHOLD * 2
    hit = reopened.query("Passage 7 about local food", {"JPN": 1.0}, 1)
    assert hit and hit[0].culture == "JPN"
