"""What a person reads from the graph: evidence-first replies, follow-ups, no-cue questions,
survey spreads, the asker's language, and bad input refused before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from manyshores.answers.hygiene import has_loop
from manyshores.errors import InvalidInputError
from tests.graph_fixtures import tiny_assistant

OPTIONS = "Options: Very important, Rather important, Not very important, Not at all important"


@pytest.fixture(scope="module")
def assistant(tiny_base, tmp_path_factory):
    return tiny_assistant(tiny_base, tmp_path_factory.mktemp("answers"))


def test_open_question_is_answered_from_cited_human_answers(assistant):
    r = assistant.invoke("What do people in Nigeria usually eat for breakfast?", thread_id="ng")
    v = r.values
    assert r.cultures[0]["id"] == "NGA"
    assert v["experts"] == []  # no model text: the reply is the evidence
    assert "most common answer" not in v["answer"]
    if v["wording"] == "answer":  # the bank's breakfast question is this one in other words
        assert v["answer"].startswith("People in Nigeria answered this question: ")
    else:
        assert v["answer"].startswith("I have no answers to exactly this for Nigeria. Asked “")
    assert 0.0 <= v["confidence"] <= 1.0
    assert v["short"] and v["short"] in v["answer"]
    assert 1 <= len(v["answers"]) <= 3
    assert "[1]" in v["answer"]
    assert v["sources"][0]["ref"].startswith("blend:NGA#")
    record = v["evidence"][0]
    assert record["culture"] == "NGA" and record["usable"]
    used = [c for c in record["candidates"] if c["used"]]
    assert [c["text"] for c in used] == v["answers"]
    assert not has_loop(v["answer"]) and v["answer"].endswith(".")


def test_follow_up_naming_another_country_keeps_the_topic(assistant):
    first = assistant.invoke("What do people in Nigeria usually eat for breakfast?", "fu")
    second = assistant.invoke("What about in Greece?", thread_id="fu")
    v = second.values
    assert second.cultures[0]["id"] == "GRC"
    assert "breakfast" in v["query"].lower()
    assert "Greece" in v["answer"].split(".")[0]
    assert v["answer"] != first.answer
    assert all(s["ref"].startswith("blend:GRC#") for s in v["sources"] if "blend:" in s["ref"])


def test_no_cultural_cue_gets_a_neutral_answer_not_a_persona(assistant):
    r = assistant.invoke("What is a good way to spend a rainy Sunday afternoon?", "nocue")
    assert [e["kind"] for e in r.experts] == ["base"]
    assert r.experts[0]["culture"] == ""
    assert "persona" not in r.answer
    text = r.answer
    assert "not specific to any culture" in text or "Tell me which country" in text
    assert "Bahamas" not in text


def test_survey_reply_leads_with_the_most_likely_option(assistant):
    r = assistant.invoke(f"I'm from Kenya. How important is family in your life? {OPTIONS}", "sv")
    v = r.values
    probs = v["option_probs"]
    options = v["task"]["options"]
    best = max(range(len(probs)), key=lambda i: probs[i])
    assert v["short"] == options[best]
    assert f"“{options[best]}” ({round(100 * probs[best])}%)" in v["answer"]
    assert isinstance(v["choice"], int)  # the metrics' decision, kept apart


def test_previous_options_do_not_leak_into_a_new_question(assistant):
    assistant.invoke(f"I'm from Kenya. How important is religion in your life? {OPTIONS}", "lk")
    r = assistant.invoke("¿Y en México, qué se come en Nochebuena?", thread_id="lk")
    v = r.values
    assert v["task"]["options"] == []
    assert r.cultures[0]["id"] == "MEX"
    assert v["language"] == "es"
    assert "important" not in v["answer"].lower()
    # From Mexico's evidence, or honestly none — in Spanish either way.
    assert v["answer"].startswith(
        (
            "La gente de México respondió a esta pregunta:",
            "No tengo respuestas a exactamente esto para México. A la pregunta «",
            "No tengo información sobre esto para México",
        )
    )


def test_korean_question_gets_a_korean_reply(assistant):
    r = assistant.invoke("한국에서는 설날에 무엇을 먹나요?", thread_id="ko")
    assert r.values["language"] == "ko"
    assert r.cultures[0]["id"] == "KOR"
    # The bank asks about the *symbolic* food of the new year: named as the question answered.
    assert r.answer.startswith(("대한민국 사람들이 이 질문에 답한 내용:", "대한민국에 대해 정확히"))
    assert "떡국" in r.answer


def test_user_culture_is_a_prior_and_a_named_culture_sets_the_topic(assistant):
    own = assistant.invoke("What do we eat for breakfast?", "uc", user_culture="JPN")
    assert own.cultures[0]["id"] == "JPN" and own.cultures[0]["p"] >= 0.8
    assert own.to_json()["culture_basis"][:2] == ["own", "profile"]
    assert "Japan (your culture)" in own.answer  # answered for it, and it says so
    about = assistant.invoke("What do people in Mexico eat for breakfast?", "uc")
    assert about.cultures[0]["id"] == "MEX"
    assert about.to_json()["culture_basis"][0] == "mention"
    assert about.values["user_culture"] == "JPN"
    with pytest.raises(InvalidInputError):
        assistant.invoke("hello", "uc2", user_culture="Atlantis")


def test_binary_message_is_refused_and_nothing_is_written(assistant):
    with pytest.raises(InvalidInputError, match="binary"):
        assistant.invoke(os.urandom(4096).decode("latin-1"), thread_id="bin")
    with pytest.raises(InvalidInputError):
        assistant.trace("bin")  # the thread was never created


def _cli(args: list[str], stdin: bytes, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "manyshores.cli.main", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **env_extra},
        timeout=300,
    )


def test_ask_refuses_binary_stdin_before_loading_anything(tmp_path):
    # A model path that does not exist: the refusal must come before any model work.
    env = {"MANYSHORES_BASE_MODEL": str(tmp_path / "no-model"), "MANYSHORES_HOME": str(tmp_path)}
    proc = _cli(["ask"], os.urandom(2048), env)
    assert proc.returncode == 2
    assert b"not UTF-8 text" in proc.stderr or b"binary" in proc.stderr
    symbols = _cli(["ask", "--file", "/dev/stdin"], b"%$#@!" * 50, env)
    assert symbols.returncode == 2 and b"mostly not letters" in symbols.stderr


def test_chat_refuses_an_unknown_culture_when_typed(tmp_path):
    env = {"MANYSHORES_BASE_MODEL": str(tmp_path / "no-model"), "MANYSHORES_HOME": str(tmp_path)}
    proc = _cli(["chat"], b"/culture Atlantis\n/culture JPN\n/quit\n", env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "error" in out and "Atlantis" in out
    assert "your culture: JPN" in out


def test_a_200_kb_message_from_a_file_is_read_whole_and_answered(assistant, tmp_path):
    from manyshores.cli.graph import read_message

    text = "What do people in Nigeria usually eat for breakfast? " + "Tell me more. " * 15000
    path = tmp_path / "long.txt"
    path.write_text(text, encoding="utf-8")
    message = read_message(None, path)
    assert len(message.encode()) > 200_000 and message == text
    r = assistant.invoke(message, thread_id="long")
    assert any("truncated" in n for n in r.values["notes"])
    assert r.values["messages"][0].content == text  # kept whole in the conversation


def test_no_evidence_in_a_language_the_model_does_not_write_runs_no_model(assistant):
    # Kenya has no everyday-culture evidence; the base model's Spanish would not be shown.
    r = assistant.invoke("¿Qué desayunan normalmente las familias en Kenya?", "kes")
    assert r.values["language"] == "es"
    assert r.experts == [] and r.values["expert_answers"] == []
    from manyshores.answers.compose import culture_label

    assert r.answer == f"No tengo información sobre esto para {culture_label('KEN', 'es')}."


@pytest.mark.parametrize(
    "question",
    # Short questions with no evidence (a text to write or a how-to would generate nothing).
    ["I am from Canada. What do people eat on a cold winter day?", "What is a good bicycle?"],
)
def test_what_is_streamed_is_the_beginning_of_the_reply(assistant, question):
    streamed, steps = [], []
    for event in assistant.stream(question, thread_id=f"stream-{len(question)}"):
        if event.node == "token":
            streamed.append(event.update["text"])
        elif event.is_step:
            steps.append(event.node)
    answer = assistant.result(f"stream-{len(question)}", steps).answer
    assert "expert" in steps  # a generated answer, shown as it is made
    if "Canada" in question:  # the line saying there is no information comes at once
        assert streamed and streamed[0].startswith("I have no information about this for Canada")
    # Nothing shown is taken back: the reply only adds to what was streamed.
    assert answer.startswith("".join(streamed).rstrip())


@pytest.mark.parametrize(
    "question, wording, culture",
    [
        ("What is the most popular fruit in Spain?", "answer", "Spain"),
        ("¿Cuál es la fruta más popular en España?", "answer", "España"),
        ("What do people in Spain eat when they have a cold?", "related", "Spain"),
    ],
)
def test_the_json_reply_says_how_it_was_matched_and_how_sure_it_is(
    assistant, question, wording, culture
):
    data = assistant.invoke(question, thread_id=f"w-{len(question)}").to_json()
    assert data["wording"] == wording and culture in data["answer"]
    assert isinstance(data["confidence"], float) and 0.0 <= data["confidence"] <= 1.0
    if wording == "answer":  # its own people's top answer leads
        assert data["short"] in ("orange", "naranja")
    else:  # the question people answered is named, quoted
        assert "“" in data["answer"] and "most often said" in data["answer"]


def test_a_survey_or_general_reply_has_no_evidence_lead(assistant):
    data = assistant.invoke(f"I'm from Kenya. How important is family? {OPTIONS}", "w-s").to_json()
    assert data["wording"] == "none" and data["confidence"] is None
    # A later evidence turn in the same thread gets its own, and a survey turn resets them.
    data = assistant.invoke("What is the most popular fruit in Spain?", "w-s").to_json()
    assert data["wording"] == "answer"
    data = assistant.invoke(f"And in Spain? {OPTIONS}", "w-s").to_json()
    assert data["wording"] == "none" and data["confidence"] is None


def test_the_served_reply_carries_wording_and_confidence_streamed_or_not(assistant):
    import httpx

    from tests.serve_fixtures import running_server

    question = {"role": "user", "content": "What is the most popular fruit in Spain?"}
    with running_server(assistant) as url:
        body = {"model": "m", "messages": [question]}
        whole = httpx.post(url + "/v1/chat/completions", json=body, timeout=120).json()
        with httpx.stream(
            "POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=120
        ) as response:
            chunks = [
                json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")
            ]
    extra = whole["manyshores"]
    assert extra["wording"] == "answer" and 0.0 <= extra["confidence"] <= 1.0
    assert whole["choices"][0]["message"]["content"] == extra["answer"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    closing = [c for c in chunks if c.get("manyshores")][0]["manyshores"]
    assert text == extra["answer"] == closing["answer"]  # the same reply, streamed or not
    assert closing["wording"] == "answer" and closing["confidence"] == extra["confidence"]


def test_the_trace_shows_the_lead_wording(assistant):
    from manyshores.graph.trace import read_trace, summarize_turns

    assistant.invoke("What is the most popular fruit in Spain?", thread_id="w-trace")
    (summary,) = summarize_turns(read_trace(assistant.graph, "w-trace"))
    assert summary.wording == "answer" and 0.0 <= summary.confidence <= 1.0
    assert any("[answer, confidence" in line for line in summary.sources)
