"""The culture graph end to end on real components (tiny base model, real detector and stores)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from manyshores.errors import InvalidInputError
from tests.graph_fixtures import tiny_assistant

NODES = ["detect", "retrieve", "route", "expert", "aggregate", "respond"]


@pytest.fixture()
def assistant(tiny_base, tmp_path):
    return tiny_assistant(tiny_base, tmp_path)


@pytest.fixture()
def any_assistant(tiny_base, tmp_path, checkpoint_backend):
    """The assistant on SQLite and on PostgreSQL checkpoints and profiles."""
    return tiny_assistant(tiny_base, tmp_path, **checkpoint_backend)


def _dedupe(steps: list[str]) -> list[str]:
    out: list[str] = []
    for s in steps:
        if not out or out[-1] != s:
            out.append(s)
    return out


def test_full_turn_runs_every_node(assistant):
    result = assistant.invoke(
        "I'm from Kenya. What do we usually eat for breakfast?", thread_id="a"
    )
    assert _dedupe(result.steps) == NODES
    assert result.cultures[0]["id"] == "KEN"
    assert result.experts and abs(sum(e["weight"] for e in result.experts) - 1) < 1e-6
    assert len(result.values["expert_answers"]) == len(result.experts)
    assert isinstance(result.values["messages"][-1], AIMessage)
    data = result.to_json()
    assert set(data) == {
        "answer",
        "thread_id",
        "cultures",
        "ambiguous",
        "task",
        "experts",
        "sources",
        "options",
        "steps",
        "short",
        "answers",
        "choice",
        "culture_basis",
        "user_culture",
        "language",
        "notes",
        "timings_ms",
        "text_runtime",
        "wording",
        "confidence",
    }
    # Whichever runtime generated text says so; none when no text was generated.
    generated = [a.get("runtime") for a in result.values["expert_answers"] if a.get("runtime")]
    assert data["text_runtime"] == (generated[0] if generated else None)
    assert data["culture_basis"][0] == "mention"  # "I'm from Kenya" names the culture
    assert set(data["timings_ms"]) >= {"detect", "retrieve", "respond"}


def test_multiple_choice_gets_a_distribution(assistant):
    result = assistant.invoke(
        "I'm from Kenya. How important is family in your life? "
        "Options: Very important, Rather important, Not very important, Not at all important",
        thread_id="mc",
    )
    assert result.values["task"]["name"] == "multiple_choice"
    options = result.to_json()["options"]
    assert [o["text"] for o in options][:2] == ["Very important", "Rather important"]
    assert abs(sum(o["p"] for o in options) - 1) < 1e-3
    best = max(options, key=lambda o: o["p"])["text"]
    assert result.values["short"] == best and f"“{best}”" in result.answer


def test_culture_from_turn_one_drives_turn_three(any_assistant):
    assistant = any_assistant
    assistant.invoke("Hi! I'm from Kenya.", thread_id="mt")
    assistant.invoke("I'd like some help with cooking.", thread_id="mt")
    third = assistant.invoke("What should I cook for a family dinner?", thread_id="mt")
    assert third.cultures[0]["id"] == "KEN"
    assert len([m for m in third.values["messages"] if m.type == "human"]) == 3


def test_trace_lists_every_node_of_every_turn_in_order(any_assistant):
    assistant = any_assistant
    assistant.invoke("I'm from Greece. What do we eat at Easter?", thread_id="tr")
    assistant.invoke("And what do we drink?", thread_id="tr")
    steps = assistant.trace("tr")
    for turn in (1, 2):
        nodes = _dedupe([s.node for s in steps if s.turn == turn])
        # A turn answered from evidence runs no expert.
        assert nodes in (NODES, [n for n in NODES if n != "expert"])
    assert [s.index for s in steps] == list(range(len(steps)))
    assert all(s.seconds > 0 for s in steps)
    assert [s.turn for s in steps] == sorted(s.turn for s in steps)
    detect = steps[0]
    assert "Greece" in detect.read["messages"][0]["content"] and "posterior" in detect.wrote


def test_fork_with_another_culture_leaves_original_intact(any_assistant):
    assistant = any_assistant
    original = assistant.invoke("I'm from Kenya. What is a typical breakfast?", thread_id="fk")
    forked = assistant.fork("fk", 0, culture="MEX")
    assert forked.cultures[0]["id"] == "MEX"
    assert {e["culture"] for e in forked.experts} != {e["culture"] for e in original.experts}
    # The original branch is still in the checkpoints, unchanged.
    old = assistant.graph.get_state(
        {"configurable": {"thread_id": "fk", "checkpoint_id": original_checkpoint(assistant, "fk")}}
    )
    assert old.values["posterior"]["cultures"][0]["id"] == "KEN"
    assert assistant.trace("fk")[0].wrote["posterior"]["cultures"][0]["id"] == "MEX"


def original_checkpoint(assistant, thread_id: str) -> str:
    """The newest checkpoint whose state answered for KEN (the pre-fork head)."""
    for snap in assistant.graph.get_state_history({"configurable": {"thread_id": thread_id}}):
        if (
            not snap.next
            and snap.values.get("posterior", {}).get("cultures", [{}])[0].get("id") == "KEN"
        ):
            return snap.config["configurable"]["checkpoint_id"]
    raise AssertionError("original head not found")


def test_interrupt_and_resume_on_ambiguous_culture(assistant):
    result = assistant.invoke(
        "¿Qué desayunan normalmente las familias?", thread_id="hitl", confirm_culture=True
    )
    assert result.interrupt is not None
    assert "answer" not in result.values
    assert len(result.interrupt["candidates"]) >= 2  # several Spanish-speaking cultures
    with pytest.raises(InvalidInputError, match="waiting"):
        assistant.invoke("another message", thread_id="hitl")
    resumed = assistant.resume("hitl", "MEX")
    assert resumed.cultures[0]["id"] == "MEX"
    assert "respond" in resumed.steps


def test_empty_message_is_rejected_and_thread_untouched(assistant):
    assistant.invoke("I'm from Spain. When do we have lunch?", thread_id="bad")
    before = len(assistant.trace("bad"))
    for text in ("", "   \n"):
        with pytest.raises(InvalidInputError, match="empty"):
            assistant.invoke(text, thread_id="bad")
    assert len(assistant.trace("bad")) == before


def test_huge_message_is_truncated_but_kept(assistant):
    text = "I'm from Spain. " + ("tapas " * 180_000) + " What time is dinner?"
    assert len(text) > 1_000_000
    result = assistant.invoke(text, thread_id="huge")
    assert any("truncated" in n for n in result.values["notes"])
    assert len(result.values["text"]) <= assistant.components.settings.max_message_chars + 10
    assert result.values["messages"][0].content == text  # the user's message itself is kept whole
    detect = assistant.trace("huge")[0]  # ...but not copied into the trace records
    assert detect.node == "detect" and len(str(detect.read)) < 5_000
    assert result.cultures[0]["id"] == "ESP"


def test_invalid_culture_and_unknown_thread(assistant):
    with pytest.raises(InvalidInputError):
        assistant.invoke("hello", culture="Atlantis")
    with pytest.raises(InvalidInputError, match="unknown thread"):
        assistant.trace("never-used-thread")


def test_locked_checkpoint_database_is_a_clear_error_and_loses_nothing(tiny_base, tmp_path):
    import sqlite3

    from tests.graph_fixtures import tiny_assistant as make

    assistant = make(tiny_base, tmp_path, checkpoint_timeout_s=0.3)
    assistant.invoke("I'm from Kenya. Hello!", thread_id="lock")
    blocker = sqlite3.connect(str(tmp_path / "checkpoints.sqlite"))
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(InvalidInputError, match="busy"):
            assistant.invoke("What do we eat for breakfast?", thread_id="lock")
    finally:
        blocker.rollback()
        blocker.close()
    result = assistant.invoke("What do we eat for breakfast?", thread_id="lock")
    humans = [m.content for m in result.values["messages"] if m.type == "human"]
    assert humans[0] == "I'm from Kenya. Hello!" and humans[-1] == "What do we eat for breakfast?"
    assert result.cultures[0]["id"] == "KEN"


def test_survey_memory_joins_only_for_survey_like_questions(assistant):
    survey = assistant.invoke(
        "I'm from Kenya. How important is family in your life? "
        "Options: Very important, Rather important, Not very important, Not at all important",
        thread_id="sm1",
    )
    assert any("survey memory" in n for n in survey.values["notes"])
    # No expert set is calibrated for the tiny model, so the experts carry no weight: memory
    # answers in their place (Kenyans most often say "Very important") and none of them runs.
    answers = survey.values["expert_answers"]
    assert {a["expert_id"] for a in answers} == {"survey-memory"}
    assert survey.option_probs[0] == max(survey.option_probs)
    assert survey.values["short"] == "Very important"
    assert survey.answer.startswith(
        "Among people in Kenya asked similar World Values Survey questions: “Very important”"
    )
    other = assistant.invoke(
        "I'm from Kenya. Which drink is most common at breakfast? Options: Tea, Coffee, Juice",
        thread_id="sm2",
    )
    assert other.values["task"]["name"] == "multiple_choice"
    assert not any("survey memory" in n for n in other.values["notes"])


def test_stream_yields_each_node_and_the_general_answer_token_by_token(assistant):
    # Kenya has no everyday-culture evidence: the base model's general answer is generated and
    # streamed; the reply says so first.
    events = list(assistant.stream("I'm from Kenya. What is a typical breakfast?", thread_id="st"))
    steps = [e.node for e in events if e.is_step]
    assert _dedupe(steps) == NODES
    tokens = [e for e in events if e.node == "token"]
    answer = assistant.result("st").answer
    assert answer.startswith("I have no information about this for Kenya.")
    assert all(e.update["expert"] == "base" for e in tokens)
    last_token = max(i for i, e in enumerate(events) if e.node == "token") if tokens else -1
    assert last_token < [e.node for e in events].index("aggregate")  # tokens come before the end


def test_profile_from_one_thread_informs_another(any_assistant):
    assistant = any_assistant
    assistant.invoke("Hi! I'm from Kenya.", thread_id="pa", user_id="zawadi")
    later = assistant.invoke(
        "What should I cook for a family dinner?", thread_id="pb", user_id="zawadi"
    )
    assert later.cultures[0]["id"] == "KEN"
    assert "profile" in {s["kind"] for s in later.values["posterior"]["signals"]}
