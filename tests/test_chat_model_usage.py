"""CultureChatModel's token usage, standard params and structured output, on the tiny model.

Token counts are checked against what the base model really processed: a forward pre-hook on
the transformer records every call's token count (the prompt, then one token per decoding step).
"""

from __future__ import annotations

import enum
from typing import Any, Literal, TypedDict

import pytest
from langchain_core.messages import AIMessageChunk
from pydantic import BaseModel, ValidationError

from manyshores.errors import InvalidInputError
from manyshores.experts.committee import Committee
from manyshores.graph import CultureChatModel
from manyshores.graph.chat_model import cut_at_stop
from manyshores.graph.usage import turn_usage
from tests.graph_fixtures import tiny_components

OPTIONS = ["Very important", "Rather important", "Not very important"]
SURVEY = "How important is family in your life?"
MAX_TOKENS = 5


class ForwardLog:
    """Token count of every forward call of the base transformer, while active."""

    def __init__(self, base: Any) -> None:
        self.module = base.model.model
        self.calls: list[int] = []

    def _hook(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids")
        tensor = ids if ids is not None else kwargs["inputs_embeds"]
        assert tensor.shape[0] == 1, "these tests run one row at a time"
        self.calls.append(int(tensor.shape[1]))

    def __enter__(self) -> ForwardLog:
        self.handle = self.module.register_forward_pre_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


@pytest.fixture(scope="module")
def components(tiny_base, tmp_path_factory):
    return tiny_components(tiny_base, tmp_path_factory.mktemp("chat-usage"), max_new_tokens=8)


@pytest.fixture(scope="module")
def model(components):
    return CultureChatModel(components=components, max_tokens=MAX_TOKENS)


@pytest.fixture(scope="module")
def kenyan(components):
    """Culture forced on the model: a chain (as `with_structured_output` makes) passes no
    per-call arguments to it."""
    return CultureChatModel(components=components, max_tokens=MAX_TOKENS, culture="KEN")


def survey_question(options: list[str] = OPTIONS) -> str:
    return SURVEY + "\n" + "\n".join(f"{'ABC'[i]}. {o}" for i, o in enumerate(options))


# ---- usage_metadata ------------------------------------------------------------------------


def test_one_generating_expert_counts_its_prompt_and_generated_tokens(model, tiny_base):
    with ForwardLog(tiny_base) as log:
        message = model.invoke("What is a typical breakfast?", culture="KEN")
    (part,) = message.response_metadata["expert_usage"]
    # Generation: the prompt (in one or two forwards: a cached start is not recomputed), then one
    # forward per generated token after the first.
    decode = log.calls[len(log.calls) - (MAX_TOKENS - 1) :]
    prefill = log.calls[: len(log.calls) - len(decode)]
    assert all(n == 1 for n in decode)
    assert 0 < sum(prefill) <= part["input_tokens"]
    assert part["input_tokens"] > 20
    assert part["output_tokens"] == MAX_TOKENS  # the random model never stops
    assert message.usage_metadata == {
        "input_tokens": part["input_tokens"],
        "output_tokens": MAX_TOKENS,
        "total_tokens": part["input_tokens"] + MAX_TOKENS,
    }


def test_a_committee_counts_every_expert():
    # Open questions are answered from evidence or by one general answer and survey questions by
    # memory, so the default graph rarely runs a committee: the sum is checked on its answers.
    from manyshores.graph.usage import turn_usage

    answers = [
        {"expert_id": "a", "culture": "ESP", "weight": 0.6, "text": "x", "option_probs": None,
         "seconds": 0.1, "input_tokens": 30, "output_tokens": 5},
        {"expert_id": "b", "culture": "MEX", "weight": 0.4, "text": "y", "option_probs": None,
         "seconds": 0.1, "input_tokens": 32, "output_tokens": 7},
        {"expert_id": "c", "culture": "MEX", "weight": 0.0, "text": "z", "option_probs": None,
         "seconds": 0.0},  # no counts (survey memory, evidence): adds nothing
    ]  # fmt: skip
    usage, parts = turn_usage(answers)  # type: ignore[arg-type]
    assert usage == {"input_tokens": 62, "output_tokens": 12, "total_tokens": 74}
    assert [p["expert_id"] for p in parts][:2] == ["a", "b"]


def test_shared_prefix_decoding_counts_its_prompt_and_tokens(tiny_base):
    # The bare base model decodes through the committee's shared-prefix decoder.
    choice = {"id": "base", "culture": "", "kind": "base", "weight": 1.0, "reason": "test"}
    chat = [{"role": "user", "content": "Hello there"}]
    with ForwardLog(tiny_base) as log:
        (answer,) = Committee(tiny_base).generate(chat, [choice], max_new_tokens=4, ignore_eos=True)
    template = tiny_base.tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    assert answer["input_tokens"] == log.calls[0] == len(template["input_ids"])
    assert answer["output_tokens"] == 4


def test_survey_answers_from_memory_use_no_model_tokens(model, tiny_base):
    # The expert set's calibrated weight is 0: the culture's known answers decide and no model
    # forward runs, so the turn uses no tokens.
    with ForwardLog(tiny_base) as log:
        message = model.invoke(survey_question(), culture="KEN")
    assert message.response_metadata["task"] == "multiple_choice"
    assert log.calls == []
    assert message.usage_metadata == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def test_stream_and_batch_report_the_same_usage_as_invoke(model):
    question = "I'm from Spain or maybe Mexico. What do we eat?"
    invoked = model.invoke(question)
    chunks = list(model.stream(question))
    # Usage rides on one chunk only, so summing chunks counts it once.
    assert sum(c.usage_metadata is not None for c in chunks) == 1
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert isinstance(full, AIMessageChunk)
    assert full.usage_metadata == invoked.usage_metadata
    assert full.response_metadata["expert_usage"] == invoked.response_metadata["expert_usage"]
    batched = model.batch([question, survey_question()])
    assert batched[0].usage_metadata == invoked.usage_metadata
    assert batched[1].usage_metadata is not None
    assert batched[1].usage_metadata["output_tokens"] == 0


def test_answers_without_expert_generation_add_no_tokens():
    # An answer composed without generation (e.g. from retrieved human answers) carries no counts.
    composed = {
        "expert_id": "evidence",
        "culture": "KEN",
        "weight": 1.0,
        "text": "Tea and mandazi.",
        "option_probs": None,
        "seconds": 0.01,
    }
    generated = {**composed, "expert_id": "persona:KEN", "input_tokens": 40, "output_tokens": 7}
    usage, parts = turn_usage([composed, generated])  # type: ignore[list-item]
    assert usage == {"input_tokens": 40, "output_tokens": 7, "total_tokens": 47}
    assert [(p["expert_id"], p["output_tokens"]) for p in parts] == [
        ("evidence", 0),
        ("persona:KEN", 7),
    ]
    assert turn_usage([])[0] == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


# ---- parameters ----------------------------------------------------------------------------


def test_max_tokens_caps_generation_without_changing_shared_components(components, model):
    assert model.components.settings.max_new_tokens == MAX_TOKENS
    assert components.settings.max_new_tokens == 8  # the caller's components are untouched
    assert model.components.base is components.base  # the loaded model is shared, not reloaded
    longer = CultureChatModel(components=components).invoke(
        "What is a typical breakfast?", culture="KEN"
    )
    assert longer.usage_metadata is not None and longer.usage_metadata["output_tokens"] == 8


def test_ls_params_report_the_model_and_its_settings(components):
    params = CultureChatModel(components=components, max_tokens=7, stop=["x"])._get_ls_params()
    assert params == {
        "ls_provider": "manyshores",
        "ls_model_name": "tiny",  # the loaded base model's spec
        "ls_model_type": "chat",
        "ls_temperature": 0.0,
        "ls_max_tokens": 7,
        "ls_stop": ["x"],
    }


def test_bad_parameters_are_refused_clearly(components, model):
    with pytest.raises(ValidationError, match="greedy"):
        CultureChatModel(components=components, temperature=0.7)
    with pytest.raises(ValidationError, match="at least 1"):
        CultureChatModel(components=components, max_tokens=0)
    with pytest.raises(ValueError, match="unsupported call arguments"):
        model.invoke("Hello", model="gpt-4o")


def test_stop_sequences_cut_the_reply(model):
    answer = model.invoke(survey_question(), culture="KEN").text
    assert "Kenya" in answer
    cut = model.invoke(survey_question(), culture="KEN", stop=[answer[1:3]]).text
    assert cut == answer[:1]
    assert cut_at_stop("tea, then coffee", ["coffee", ", "]) == "tea"


# ---- structured output ---------------------------------------------------------------------


class Answer(BaseModel):
    """An answer to the survey question."""

    choice: Literal["Very important", "Rather important", "Not very important"]
    distribution: dict[str, float]


class Importance(enum.Enum):
    very = "Very important"
    rather = "Rather important"
    not_very = "Not very important"


class AnswerDict(TypedDict):
    """An answer to the survey question."""

    choice: Importance


def test_structured_output_returns_the_scored_choice_and_distribution(kenyan):
    chat = kenyan.with_structured_output(Answer, include_raw=True)
    out = chat.invoke(SURVEY)
    raw, parsed = out["raw"], out["parsed"]
    assert out["parsing_error"] is None
    assert isinstance(parsed, Answer)
    meta = raw.response_metadata
    assert meta["options"] == OPTIONS  # the schema's options reached the option scoring
    probs = meta["option_probs"]
    assert parsed.choice == OPTIONS[max(range(len(probs)), key=lambda i: probs[i])]  # the mode
    assert parsed.distribution == dict(zip(OPTIONS, meta["option_probs"], strict=True))
    assert sum(parsed.distribution.values()) == pytest.approx(1.0)
    # The same as asking the question with its options listed.
    plain = kenyan.invoke(survey_question())
    assert plain.response_metadata["option_probs"] == pytest.approx(meta["option_probs"])


def test_structured_output_takes_enum_typeddict_and_json_schema(kenyan):
    typed = kenyan.with_structured_output(AnswerDict).invoke(SURVEY)
    assert set(typed) == {"choice"} and typed["choice"] in OPTIONS
    schema = {
        "title": "answer",
        "description": "An answer to the survey question.",
        "type": "object",
        "properties": {"choice": {"type": "string", "enum": OPTIONS}},
        "required": ["choice"],
    }
    as_json = kenyan.with_structured_output(schema).invoke(SURVEY)
    assert as_json == typed
    streamed = list(kenyan.with_structured_output(schema).stream(SURVEY))
    assert streamed[-1] == typed


def test_structured_output_accepts_a_question_that_already_lists_the_options(kenyan):
    chat = kenyan.with_structured_output(Answer, include_raw=True)
    out = chat.invoke(survey_question())
    assert out["raw"].response_metadata["options"] == OPTIONS
    with pytest.raises(InvalidInputError, match="not the schema's"):
        chat.invoke(survey_question(["Yes", "No", "Maybe"]))


def test_structured_output_refuses_schemas_that_are_not_option_questions(kenyan):
    class Joke(BaseModel):
        """A joke."""

        setup: str
        punchline: str

    with pytest.raises(InvalidInputError, match="exactly one enum field"):
        kenyan.with_structured_output(Joke)

    class Single(BaseModel):
        """One option only."""

        choice: Literal["Yes"]

    with pytest.raises(InvalidInputError, match="2 to 26 options"):
        kenyan.with_structured_output(Single)
    with pytest.raises(ValueError, match="unknown method"):
        kenyan.with_structured_output(Answer, method="regex")
