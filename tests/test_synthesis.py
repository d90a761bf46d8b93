"""Synthesis offline: local Tavily pages from real BLEnD rows, scripted and tiny-model teachers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from langchain_core.language_models import FakeListChatModel

from manyshores.synthesis import (
    BaseModelTeacher,
    ChatModelTeacher,
    SynthesisRequest,
    plan_queries,
    synthesize,
)
from manyshores.testing.tavily_server import TavilyTestServer
from tests.synthesis_fixtures import ScriptedTeacherModel, blend_results, web_sources


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_plan_has_english_and_main_language_queries() -> None:
    mex = plan_queries("MEX", "everyday_qa")
    assert {q.lang for q in mex} == {"en", "es"}
    assert mex[0].text == "food in Mexico" and "México" in mex[1].text
    assert {q.lang for q in plan_queries("GBR", "food_qa")} == {"en"}
    assert plan_queries("KOR", "wedding_gifts")[0].topic == "wedding gifts"


@pytest.fixture()
def server(test_data: Path):
    with TavilyTestServer(results=blend_results(test_data)) as srv:
        yield srv


def test_pipeline_keeps_grounded_examples_with_real_provenance(
    server: TavilyTestServer, tmp_path: Path
) -> None:
    teacher = ChatModelTeacher(ScriptedTeacherModel(hallucinate_every=4))
    req = SynthesisRequest("MEX", "everyday_qa", "short_answer", 12, tmp_path / "mex.jsonl")
    report = synthesize(req, teacher, web_sources(server, tmp_path), progress=False)

    examples = _read(req.out)
    assert report.kept == len(examples) == 12 and report.new == 12
    assert report.dropped["grounding"] >= 2  # some answers were made up
    assert report.dropped["duplicate"] >= 1  # a mirror page repeats a question
    assert report.attempts == report.new + sum(report.dropped.values())
    served = {
        hashlib.sha256(r["url"].encode()).hexdigest()[:16]: r
        for results in server.results.values()
        for r in results
    }
    for ex in examples:
        prov = ex["provenance"]
        page = served[prov["passage_id"]]  # resolves to a passage the search really returned
        assert prov["source"] == page["url"] and prov["origin"] == "web"
        assert ex["answer"].lower() in page["content"].lower()
        assert ex["answer"] != "pizza hut"
        assert prov["teacher"] == "langchain:scripted-teacher"
        assert prov["query"] in {q["query"].split(" (")[0] for q in server.requests}
    assert len({ex["id"] for ex in examples}) == len(examples)
    log = _read(req.log_path)
    assert sum(r["status"] == "grounding" for r in log) == report.dropped["grounding"]


class _Interrupt(BaseException):
    """Stands in for Ctrl-C / a killed process (not caught as a teacher error)."""


class _CrashingTeacher:
    def __init__(self, inner: ChatModelTeacher, crash_after: int) -> None:
        self.inner, self.crash_after, self.calls = inner, crash_after, 0
        self.name = inner.name

    def complete(self, messages: list[dict[str, str]]) -> str:
        self.calls += 1
        if self.calls > self.crash_after:
            raise _Interrupt()
        return self.inner.complete(messages)


def test_interrupted_run_resumes_without_duplicates(
    server: TavilyTestServer, tmp_path: Path
) -> None:
    def teacher() -> ChatModelTeacher:
        return ChatModelTeacher(ScriptedTeacherModel(hallucinate_every=4))

    whole = SynthesisRequest("MEX", "everyday_qa", "short_answer", 14, tmp_path / "whole.jsonl")
    synthesize(whole, teacher(), web_sources(server, tmp_path), progress=False)

    part = SynthesisRequest("MEX", "everyday_qa", "short_answer", 14, tmp_path / "part.jsonl")
    with pytest.raises(_Interrupt):
        synthesize(
            part, _CrashingTeacher(teacher(), 7), web_sources(server, tmp_path), progress=False
        )
    first = _read(part.out)
    assert 0 < len(first) < 14
    with part.out.open("a") as fh:  # killed in the middle of writing a line
        fh.write('{"id": "torn')
    report = synthesize(part, teacher(), web_sources(server, tmp_path), progress=False)
    resumed = _read(part.out)
    assert report.kept == len(resumed) == 14
    assert report.new == 14 - len(first)
    assert len({e["id"] for e in resumed}) == 14
    assert len({e["question"] for e in resumed}) == 14
    assert [e["id"] for e in resumed] == [e["id"] for e in _read(whole.out)]
    again = synthesize(part, teacher(), web_sources(server, tmp_path), progress=False)
    assert again.new == 0 and again.attempts == 0 and len(_read(part.out)) == 14


def test_classification_labels_balanced_and_drops_counted(
    server: TavilyTestServer, tmp_path: Path
) -> None:
    def reply(label: str, statement: str) -> str:
        return json.dumps(
            {"statement": statement, "label": label, "evidence": "most people answered"}
        )

    # Mostly "true" statements: once half the quota is true, further trues are dropped.
    replies = [reply("true", f"In Mexico most people answered {i}") for i in range(6)]
    replies += [reply("false", f"Nobody in Mexico ever answered {i}") for i in range(3)]
    replies += ["no json here", reply("maybe", "x")]
    teacher = ChatModelTeacher(FakeListChatModel(responses=replies), name="fake")
    req = SynthesisRequest("MEX", "everyday_qa", "classification", 4, tmp_path / "cls.jsonl")
    report = synthesize(req, teacher, web_sources(server, tmp_path), progress=False)
    labels = [e["answer"] for e in _read(req.out)]
    assert sorted(labels) == ["false", "false", "true", "true"]
    assert report.dropped["balance"] == 4


def test_tiny_model_teacher_runs_end_to_end(
    server: TavilyTestServer, tmp_path: Path, tiny_base
) -> None:
    # A random tiny model writes junk: the run must finish and count every drop.
    teacher = BaseModelTeacher(tiny_base, max_new_tokens=12)
    req = SynthesisRequest(
        "MEX", "food_qa", "short_answer", 2, tmp_path / "tiny.jsonl", languages=1
    )
    report = synthesize(req, teacher, web_sources(server, tmp_path), progress=False)
    assert report.attempts > 0
    assert report.attempts == report.new + sum(report.dropped.values())
    assert report.exhausted or report.kept == 2
    assert teacher.name.startswith("base:")


@pytest.mark.slow
def test_default_base_model_as_teacher(
    server: TavilyTestServer, tmp_path: Path, default_base
) -> None:
    teacher = BaseModelTeacher(default_base, max_new_tokens=96)
    req = SynthesisRequest(
        "MEX", "everyday_qa", "short_answer", 2, tmp_path / "base.jsonl", languages=1
    )
    sources = web_sources(server, tmp_path, k=1)
    report = synthesize(req, teacher, sources, progress=False)
    assert report.attempts >= 1
    for ex in _read(req.out):
        assert ex["provenance"]["teacher"] == teacher.name
        assert ex["provenance"]["passage"]


def test_cli_synthesize_reports_and_resumes(
    server: TavilyTestServer, tmp_path: Path, tiny_base, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import manyshores.runtime.base_model as bm
    import manyshores.synthesis.teacher as teacher_mod
    from manyshores.cli.main import app
    from manyshores.config import get_settings

    monkeypatch.setenv("MANYSHORES_TAVILY_API_KEY", "tvly-test")
    monkeypatch.setenv("MANYSHORES_TAVILY_BASE_URL", server.url)
    monkeypatch.setattr(bm, "load_base_model", lambda *a, **kw: tiny_base)
    # The scripted teacher stands in for `provider:model` (what init_chat_model would build).
    monkeypatch.setattr(
        teacher_mod,
        "teacher_from_settings",
        lambda settings, load_base=None: ChatModelTeacher(ScriptedTeacherModel(), name="scripted"),
    )
    get_settings.cache_clear()
    out = tmp_path / "cli.jsonl"
    args = [
        "data",
        "synthesize",
        "--culture",
        "MEX",
        "--task",
        "everyday_qa",
        "--n",
        "3",
        "--out",
        str(out),
        "--no-kb",
        "--no-progress",
    ]
    try:
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, first.output
        report = json.loads(first.stdout)
        assert report["kept"] == 3 and report["new"] == 3 and "seconds" in report
        again = CliRunner().invoke(app, [*args[:7], "5", *args[8:]])
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["new"] == 2
        assert len(_read(out)) == 5
    finally:
        get_settings.cache_clear()


class _BatchingTeacher:
    """A scripted teacher that also answers batches (as the local base-model teacher does)."""

    def __init__(self) -> None:
        self.inner = ChatModelTeacher(ScriptedTeacherModel(hallucinate_every=4))
        self.name = self.inner.name
        self.batches: list[int] = []

    def complete(self, messages: list[dict[str, str]]) -> str:
        return self.inner.complete(messages)

    def complete_batch(self, batch: list[list[dict[str, str]]]) -> list[str]:
        self.batches.append(len(batch))
        return [self.inner.complete(m) for m in batch]


def test_batched_teacher_calls_give_the_same_run(server: TavilyTestServer, tmp_path: Path) -> None:
    one = SynthesisRequest("MEX", "everyday_qa", "short_answer", 10, tmp_path / "one.jsonl")
    synthesize(one, _BatchingTeacher(), web_sources(server, tmp_path), progress=False)
    teacher = _BatchingTeacher()
    many = SynthesisRequest("MEX", "everyday_qa", "short_answer", 10, tmp_path / "many.jsonl")
    report = synthesize(many, teacher, web_sources(server, tmp_path), progress=False, batch_size=4)
    assert max(teacher.batches) == 4  # really batched
    assert [e["id"] for e in _read(many.out)] == [e["id"] for e in _read(one.out)]
    assert report.attempts == report.new + sum(report.dropped.values()) == len(_read(many.log_path))
    assert [r["item"] for r in _read(many.log_path)] == [r["item"] for r in _read(one.log_path)]


def test_base_teacher_batch_matches_one_by_one(tiny_base) -> None:
    from manyshores.synthesis.teacher import teacher_messages

    teacher = BaseModelTeacher(tiny_base, max_new_tokens=8)
    chats = [
        teacher_messages("short_answer", "Mexico", "everyday_qa", text, "food in Mexico")
        for text in ("Tacos are eaten daily.", "People in Mexico drink a lot of atole at dawn.")
    ]
    assert teacher.complete_batch(chats) == [teacher.complete(c) for c in chats]


def test_an_empty_knowledge_base_is_reported_not_silent(tmp_path: Path) -> None:
    from manyshores.config import Settings
    from manyshores.memory.knowledge_base import KnowledgeBase
    from manyshores.passages import Document
    from manyshores.synthesis.ground import PassageSources

    kb = KnowledgeBase.open(Settings(home=tmp_path))
    sources = PassageSources(kb=kb, k=2)
    query = plan_queries("MEX", "everyday_qa")[0]
    assert sources.retrieve(query, "MEX") == []
    assert any("no passages for MEX" in n for n in sources.notes)
    text = "In Mexico, tamales and atole are a common breakfast on holidays and weekends."
    kb.add([Document(text=text, culture="MEX", source="notes.md#1")])
    fresh = PassageSources(kb=kb, k=2)
    assert [p.text for p in fresh.retrieve(query, "MEX")] == [text]
    assert fresh.notes == []
