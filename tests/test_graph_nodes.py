"""The graph's wiring over fake components: what each node asks its collaborators and what it
does with their answers. No model, knowledge base or detector is loaded (`tests/fakes.py`)."""

from __future__ import annotations

from pathlib import Path

from manyshores.config import Settings
from manyshores.graph.assistant import CultureAssistant
from manyshores.graph.checkpoints import open_checkpointer
from tests.fakes import FakeExpertBackend, FakeProfileStore, fake_components

NODES = ["detect", "retrieve", "route", "expert", "aggregate", "respond"]


def _assistant(tmp_path: Path, **overrides) -> CultureAssistant:
    settings = Settings(home=tmp_path, tavily_api_key=None)
    components = fake_components(settings=settings, **overrides)
    checkpointer = open_checkpointer(tmp_path / "checkpoints.sqlite", 5.0)
    return CultureAssistant(components, checkpointer)


def _dedupe(steps: list[str]) -> list[str]:
    out: list[str] = []
    for s in steps:
        if not out or out[-1] != s:
            out.append(s)
    return out


def test_an_open_question_with_evidence_is_answered_from_it(tmp_path: Path) -> None:
    assistant = _assistant(tmp_path)
    result = assistant.invoke("I'm from Kenya. What is for breakfast?", thread_id="t")
    assert _dedupe(result.steps) == [n for n in NODES if n != "expert"]  # no model work
    assert result.cultures[0]["id"] == "KEN"
    assert (
        result.answer
        == "I have no answers to exactly this for Kenya. Asked “a question”, people there most "
        "often said uji [1]. Other answers to related questions: chai [1]."
    )
    assert result.values["short"] == "uji" and result.values["answers"] == ["uji", "chai"]
    retriever = assistant.components.retriever
    assert retriever.calls == ["I'm from Kenya. What is for breakfast?"]
    assert [s["ref"] for s in result.values["sources"]] == ["fake-evidence:KEN", "fake:KEN"]


def test_without_evidence_the_general_answer_is_labelled(tmp_path: Path) -> None:
    backend = FakeExpertBackend()
    assistant = _assistant(tmp_path, experts=backend)
    result = assistant.invoke("I'm from Japan. What is for breakfast?", thread_id="j")
    assert _dedupe(result.steps) == NODES
    assert backend.batches == [["base"]]  # the bare base model, not the culture's persona
    lines = result.answer.splitlines()
    assert lines[0] == "I have no information about this for Japan."
    assert lines[1].startswith("A general answer, not specific to Japan: ")


def test_batchable_experts_share_one_task_and_personas_run_alone(tmp_path: Path) -> None:
    for kind, expected in (("softprompt", 1), ("persona", 2)):
        backend = FakeExpertBackend(kind=kind)
        assistant = _assistant(tmp_path / kind, experts=backend)
        result = assistant.invoke(
            "Kenya or Japan: is tea important? Options: Very, Rather, Not", thread_id=kind
        )
        assert len(backend.batches) == expected
        assert sorted(i for b in backend.batches for i in b) == [f"{kind}:JPN", f"{kind}:KEN"]
        assert len(result.values["expert_answers"]) == 2


def test_options_come_back_as_the_backend_decided(tmp_path: Path) -> None:
    backend = FakeExpertBackend(probs=[0.2, 0.7, 0.1])
    assistant = _assistant(tmp_path, experts=backend)
    result = assistant.invoke(
        "In Kenya, is tea important? Options: Very, Rather, Not", thread_id="mc"
    )
    assert result.values["task"]["options"] == ["Very", "Rather", "Not"]
    assert result.option_probs == [0.2, 0.7, 0.1]
    # Not a survey question and no people's answers near it: the experts' pick is worded as a
    # guess, with no percentages (no survey measured them).
    assert result.values["short"] == "" and result.values["choice"] == 1
    assert result.answer == (
        "I have no information about this for Kenya.\nA guess of models trained on survey "
        "answers from Kenya, not people's answers to this question: “Rather”."
    )


def test_profiles_are_recorded_and_read_back_as_a_prior(tmp_path: Path) -> None:
    profiles = FakeProfileStore()
    assistant = _assistant(tmp_path, profiles=profiles)
    assistant.invoke("I'm from Japan. Hello!", thread_id="p1", user_id="ana")
    assert profiles.recorded == [("ana", {"JPN": 1.0})]
    # A new thread with no cue: the detector is handed the stored profile.
    result = assistant.invoke("What is for breakfast?", thread_id="p2", user_id="ana")
    assert assistant.components.detector.calls[-1]["profile"] == {"JPN": 1.0}
    assert result.cultures[0]["id"] == "JPN"
