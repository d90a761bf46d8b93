"""Grounded generation: a configured chat model writes the replies the evidence template does not
fit from the numbered evidence, cites only the sources it was given, streams only sentences
whose citations were checked, and falls back to the evidence reply when it fails.

The graph turns run the real detector, evidence index and routing over the tiny model, with
LangChain's real `ChatOpenAI` against the protocol stand-in (`FakeVllmServer`); the same paths
against a real vLLM server are in `test_chat_model_vllm.py`."""

from __future__ import annotations

import random

import pytest

from manyshores.answers.grounded import CitationGate, GroundCandidate, grounding, lead_of
from manyshores.experts.routing import route
from manyshores.testing.vllm_server import FakeVllmServer
from tests.fakes import posterior_of
from tests.graph_fixtures import tiny_assistant

pytest.importorskip("langchain_openai")

SPEC = "openai:served-model"
TOAST = "Write a short toast for a wedding in South Korea"
OWN_QUESTION = (
    "What is typically given as a congratulatory gesture when attending a friend's wedding "
    "in South Korea?"
)
"""A question of the shipped evidence bank itself: its answer is worded `answer`."""


def _chat_requests(server: FakeVllmServer) -> list[dict]:
    return [r for r in server.requests if r["_path"] == "/v1/chat/completions"]


def _turn(assistant, text: str, thread: str):
    streamed, steps = [], []
    for event in assistant.stream(text, thread_id=thread):
        if event.node == "token":
            streamed.append(event.update["text"])
        elif event.is_step:
            steps.append(event.node)
    return assistant.result(thread, steps), "".join(streamed)


# ---- the citation gate -------------------------------------------------------------------------

REPLY = (
    "Congratulatory money is the usual gift [1]. Bring it in an envelope [2][9]. "
    "(culture: KOR; source: blend:KOR#x)\nCheers to the couple! [3]\nMay your life be long [12] and"
)


def test_the_gate_keeps_listed_citations_and_takes_out_the_rest():
    gate = CitationGate({1, 2, 3})
    text = gate.feed(REPLY) + gate.finish()
    assert text == (
        "Congratulatory money is the usual gift [1]. Bring it in an envelope [2].\n"
        "Cheers to the couple [3]!"  # a citation after the full stop moves before it
    )
    assert gate.cited == [1, 2, 3] and gate.dropped == [9]  # [12] was in the unfinished tail


@pytest.mark.parametrize("seed", range(20))
def test_a_streamed_reply_is_never_taken_back(seed):
    whole = CitationGate({1, 2, 3})
    expected = whole.feed(REPLY) + whole.finish()
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(REPLY)), 15))
    gate, shown = CitationGate({1, 2, 3}), ""
    for a, b in zip([0, *cuts], [*cuts, len(REPLY)], strict=True):
        shown += gate.feed(REPLY[a:b])
        assert expected.startswith(shown)  # every released piece stays in the reply
    assert shown + gate.finish() == expected


def test_a_citation_after_the_full_stop_waits_for_its_sentence():
    gate = CitationGate({1, 2})
    assert gate.feed("Money is given.") == ""
    assert gate.feed(" [") == ""  # a citation of the sentence may be arriving
    assert gate.feed("2] Then") == "Money is given [2]."
    assert gate.finish() == ""  # "Then" is an unfinished sentence


def test_the_prompt_copied_back_is_not_released():
    row = "What is given at a wedding in South Korea? — congratulatory money (5)"
    gate = CitationGate({1}, [row])
    copied = (
        "[1] South Korea, people's answers (how many gave each): What is given at a wedding "
        "in South Korea? — congratulatory money (5);\nMoney in an envelope is usual [1]."
    )
    assert gate.feed(copied) + gate.finish() == "Money in an envelope is usual [1]."


@pytest.mark.parametrize(
    "copied",
    [
        "[6] China, people's answers (how many.",  # a numbered source line, cut short
        "Ethiopia, people's answers (how many.",  # …without its number
        "Spain (people there answered related questions, not this one).",  # the ranked line
        "— soccer (3); running (2); volleyball (1)",  # a row's answers with their counts
        "The answer to this question is: [1]",  # a lead-in and a citation, nothing said
        "END EVIDENCE].",  # the evidence block's end, misspelt
        "At what age do children start preschool in Azerbaijan?",  # the question said back
    ],
)
def test_what_a_small_model_copies_from_its_prompt_is_not_released(copied):
    gate = CitationGate({1, 6}, ["At what age do children start preschool in Azerbaijan?"])
    assert gate.feed(f"{copied}\nPreschool starts at three [1].") + gate.finish() == (
        "Preschool starts at three [1]."
    )


def test_a_looping_reply_stops_at_the_repeat():
    gate = CitationGate({1})
    text = gate.feed("Give money [1]. Give money [1]. Give flowers.") + gate.finish()
    assert text == "Give money [1]." and gate.stopped


def test_the_lead_is_checked_against_the_evidence_candidates():
    lead_c = GroundCandidate("congratulatory money", "congratulatory money", "KOR", True, 0.9, (1,))
    other = GroundCandidate("flowers", "flowers", "KOR", False, None, (2,))
    found = lead_of(
        "Most bring congratulatory money [1]. Flowers too [2].", "fact", [lead_c, other]
    )
    assert (found.short, found.confidence) == ("congratulatory money", 0.9)
    assert found.answers == ["congratulatory money", "flowers"]
    second = lead_of("Flowers, mostly [2].", "fact", [lead_c, other])
    assert second.short == "flowers" and second.confidence is None  # not the evidence's lead
    free = lead_of("Rice cakes, always. Nothing else.", "fact", [lead_c, other])
    assert (free.short, free.confidence, free.candidate) == ("Rice cakes", None, None)
    copula = lead_of("The answer to this question is: karantika (2).", "fact", [lead_c])
    assert copula.short == "karantika"  # what follows "is", without the copied count
    toast = lead_of("To the couple! Long life.", "write", [lead_c, other])
    assert toast.short == "" and toast.confidence is None


def test_grounding_numbers_are_the_turns_source_positions():
    sources = [
        {"kind": "memory", "ref": "blend:KOR#a", "snippet": "Q? — money (5)", "culture": "KOR",
         "score": 0.9},
        {"kind": "memory", "ref": "blend:CHN#b", "snippet": "Q? — red envelope (4)",
         "culture": "CHN", "score": 0.9},
        {"kind": "web", "ref": "https://example.org", "snippet": "Weddings…", "culture": None,
         "score": 0.5},
    ]  # fmt: skip
    records = [
        {"culture": "KOR", "usable": True, "similarity": 0.8, "notes": [], "wording": "related",
         "confidence": 0.4, "candidates": [{"text": "money", "refs": ["blend:KOR#a"]}]},
        {"culture": "CHN", "usable": True, "similarity": 0.8, "notes": [], "wording": "answer",
         "confidence": 0.7, "candidates": [{"text": "red envelope", "refs": ["blend:CHN#b"]}]},
    ]  # fmt: skip
    korea = grounding(records, sources, ["KOR"], {"KOR": "South Korea"})
    assert korea.numbers == {1: "blend:KOR#a", 3: "https://example.org"}
    assert [c.text for c in korea.candidates] == ["money"] and korea.candidates[0].cites == (1,)
    assert korea.lines[0].startswith("[1] South Korea, people's answers")
    both = grounding(records, sources, [])
    assert set(both.numbers) == {1, 2, 3} and both.candidates[1].confidence == 0.7


# ---- routing -----------------------------------------------------------------------------------


class _Picker:
    def task_adapter(self, posterior, task):
        return None

    def committee(self, posterior, task):
        return []

    def memory_decides(self):
        return True


def _task(request: str = "fact", options=()):
    return {"name": "open_qa", "question": "q", "options": list(options), "request": request}


def test_routing_sends_requests_and_related_facts_to_grounded_personas():
    one, two = posterior_of({"KOR": 1.0}), posterior_of({"KOR": 0.5, "CHN": 0.5})
    kw = {"grounds": True, "writes_requests": True, "general_languages": ["en"], "language": "en"}
    decision = route(one, _task("write"), _Picker(), has_evidence=True, answered=True, **kw)
    assert decision.path == "grounded" and [c["id"] for c in decision.experts] == ["persona:KOR"]
    related = route(two, _task(), _Picker(), has_evidence=True, answered=False, **kw)
    assert related.path == "grounded"
    assert [(c["culture"], c["weight"]) for c in related.experts] == [("KOR", 0.5), ("CHN", 0.5)]
    own = route(one, _task(), _Picker(), has_evidence=True, answered=True, **kw)
    assert own.path == "evidence" and not own.experts  # the evidence's own answer leads
    unshown = route(one, _task("write"), _Picker(), has_evidence=True, **{**kw, "language": "ko"})
    assert unshown.path == "evidence"  # a language the model's text is not shown in
    without = route(one, _task("write"), _Picker(), has_evidence=True, answered=True)
    assert without.path == "evidence"  # no chat model: the template, as before


def test_routing_adds_chat_experts_to_option_questions():
    task = _task(options=["a", "b"])
    decision = route(posterior_of({"KEN": 0.7, "TZA": 0.3}), task, _Picker(), chat_options=True)
    chat = [c for c in decision.experts if c["kind"] == "chat"]
    assert [(c["id"], round(c["weight"], 2)) for c in chat] == [
        ("chat:KEN", 0.7),
        ("chat:TZA", 0.3),
    ]


# ---- graph turns over the stand-in -------------------------------------------------------------


def test_a_request_is_written_from_the_evidence_citing_listed_sources(tiny_base, tmp_path):
    text = (
        "Congratulatory money is the usual gift [1]. Give it in an envelope [99]. "
        "To the couple: a long and happy life together!"
    )
    with FakeVllmServer(text=text) as server:
        assistant = tiny_assistant(
            tiny_base, tmp_path, chat_model=SPEC, chat_model_base_url=f"{server.url}/v1"
        )
        result, streamed = _turn(assistant, TOAST, "toast")
        [request] = _chat_requests(server)
    data = result.to_json()
    assert data["wording"] == "generated" and data["text_runtime"] == f"chat_model:{SPEC}"
    assert result.answer.startswith("Congratulatory money is the usual gift [1].")
    assert "[99]" not in result.answer and "envelope." in result.answer
    assert streamed and result.answer.startswith(streamed)
    assert data["short"] == "congratulatory money"
    [record] = [r for r in result.values["evidence"] if r["culture"] == "KOR"]
    assert data["confidence"] == record["confidence"]  # the evidence's lead, its confidence
    assert any("[99]" in n for n in data["notes"])
    # The prompt: the culture, the numbered human answers with their counts, the rules.
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "South Korea" in system and "cite its number" in system
    assert "[1] South Korea, people's answers" in user and "(5)" in user
    assert user.rstrip().endswith(TOAST)
    [expert] = result.values["expert_answers"]
    assert expert["expert_id"] == "persona:KOR" and data["sources"][0]["ref"] in expert["sources"]


def test_the_evidence_own_answer_keeps_its_lead_without_the_chat_model(tiny_base, tmp_path):
    with FakeVllmServer() as server:
        assistant = tiny_assistant(
            tiny_base, tmp_path, chat_model=SPEC, chat_model_base_url=f"{server.url}/v1"
        )
        result = assistant.invoke(OWN_QUESTION, "own")
        asked = _chat_requests(server)
    assert result.values["wording"] == "answer" and not asked
    assert result.values["short"] == "congratulatory money"


def test_an_ambiguous_question_gets_one_persona_per_culture_and_their_agreement(
    tiny_base, tmp_path
):
    text = "Money in an envelope is the usual gift [1]."
    with FakeVllmServer(text=text) as server:
        assistant = tiny_assistant(
            tiny_base, tmp_path, chat_model=SPEC, chat_model_base_url=f"{server.url}/v1"
        )
        result = assistant.invoke(
            "Write a short wedding wish for friends in South Korea or in China", "both"
        )
        requests = _chat_requests(server)
    answers = result.values["expert_answers"]
    assert sorted(a["culture"] for a in answers) == ["CHN", "KOR"]
    assert {round(a["weight"], 2) for a in answers} == {0.5}
    systems = sorted(r["messages"][0]["content"] for r in requests)
    assert "China" in systems[0] and "South Korea" in systems[1]
    assert result.values["wording"] == "generated" and result.answer.startswith("Money")
    for a in answers:  # each persona had its own culture's numbered sources
        own = {s["ref"] for s in result.values["sources"] if s.get("culture") == a["culture"]}
        assert set(a["sources"]) <= own | {
            s["ref"] for s in result.values["sources"] if not s.get("culture")
        }


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_a_failed_chat_model_keeps_the_evidence_part(tiny_base, tmp_path, mode):
    with FakeVllmServer(mode=mode, hang_s=3.0) as server:
        assistant = tiny_assistant(
            tiny_base,
            tmp_path,
            chat_model=SPEC,
            chat_model_base_url=f"{server.url}/v1",
            chat_model_timeout_s=0.5,
        )
        result = assistant.invoke(TOAST, f"down-{mode}")
    notes = " ".join(result.values["notes"])
    assert "the chat model" in notes and "keeps its evidence part" in notes
    assert result.answer.startswith("I cannot write such a text well.")
    assert "congratulatory money [1]" in result.answer  # the evidence reply, cited
    assert result.values["wording"] == "related"


def test_a_stream_cut_mid_reply_keeps_what_was_shown_then_the_evidence(tiny_base, tmp_path):
    text = "Money is the usual gift [1]. Give it in a white envelope. Cheers to the couple!"
    with FakeVllmServer(mode="cut", cut_after=9, text=text) as server:
        assistant = tiny_assistant(
            tiny_base, tmp_path, chat_model=SPEC, chat_model_base_url=f"{server.url}/v1"
        )
        result, streamed = _turn(assistant, TOAST, "cut")
    assert streamed == "Money is the usual gift [1]."
    assert result.answer.startswith(streamed + "\nI cannot write such a text well.")
    assert "congratulatory money [1]" in result.answer
    assert result.values["wording"] == "generated"
