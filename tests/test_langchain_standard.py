"""LangChain's own standard suites for chat models, run against `CultureChatModel`.

The unit suite needs no model. The integration suite runs on the real default base model (slow)
with small generations (`MAX_TOKENS`). Every capability declared absent below is one the model
does not have, with the reason next to it; the suites skip the tests that need it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from manyshores.config import get_settings
from manyshores.graph import Components, CultureChatModel

MAX_TOKENS = 16
"""Tokens each expert may generate in the integration suite: enough for a short reply."""


class _Capabilities:
    """What the model cannot do, shared by both suites."""

    @property
    def chat_model_class(self) -> type[CultureChatModel]:
        return CultureChatModel

    @property
    def has_tool_calling(self) -> bool:
        # The experts answer in text or by scoring options; nothing in the graph emits tool calls.
        return False

    @property
    def has_structured_output(self) -> bool:
        # Structured output exists for option questions only (a schema whose field is an enum of
        # the options, answered by option scoring; tested in test_chat_model_usage.py). The
        # suites ask for free-text fields (a joke's setup and punchline), which a 135M model
        # could only fill by parsing generated text: not declared.
        return False

    @property
    def supports_json_mode(self) -> bool:
        # No constrained JSON decoding.
        return False

    @property
    def supports_image_inputs(self) -> bool:
        # The base model reads text only (so do PDF, audio and video below).
        return False

    @property
    def supports_model_override(self) -> bool:
        # One base model per process, shared by every expert: it is a setting
        # (MANYSHORES_BASE_MODEL), not a per-call `model=` argument.
        return False

    @property
    def enable_vcr_tests(self) -> bool:
        # The model runs in process: there are no HTTP calls to record.
        return False


class TestCultureChatModelUnit(_Capabilities, ChatModelUnitTests):
    """Construction, standard params and serialisation, without loading a model.

    `test_serdes` skips: the model holds live components (a loaded model, open stores), so it is
    not LangChain-serialisable. `test_init_from_env` skips: configuration comes from the
    process-wide manyshores settings (MANYSHORES_* variables), not from per-model variables.
    """

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {}


@pytest.mark.slow
class TestCultureChatModelIntegration(_Capabilities, ChatModelIntegrationTests):
    """invoke, stream, batch, async, conversations and usage metadata on the real default model."""

    _shared: ClassVar[dict[str, Components]] = {}

    @pytest.fixture(autouse=True)
    def _real_components(self, default_base: Any) -> None:
        # One set of components (one loaded model, detector, stores) for the whole suite; the
        # suite builds a new chat model per test from `chat_model_params`.
        if "components" not in self._shared:
            settings = get_settings().model_copy(
                update={"max_new_tokens": MAX_TOKENS, "tavily_api_key": None}
            )
            self._shared["components"] = Components(settings=settings, base=default_base)

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"components": self._shared["components"], "max_tokens": MAX_TOKENS}

    def test_usage_matches_the_tokenizer(self, model: CultureChatModel) -> None:
        """Beyond the suite's type checks: the counts on the real model are the tokenizer's."""
        tok = self._shared["components"].get_base().tokenizer
        message = model.invoke("Hello")
        assert message.response_metadata["experts"] == ["base"]  # no culture: the bare model
        from manyshores.components.expert_backend import GENERAL_SYSTEM_PROMPT

        # The bare model's general answer: its instructions, then the question.
        chat = [
            {"role": "system", "content": GENERAL_SYSTEM_PROMPT},
            {"role": "user", "content": "Hello"},
        ]
        prompt = tok.apply_chat_template(
            chat, add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
        usage = message.usage_metadata
        assert usage is not None
        assert usage["input_tokens"] == len(prompt)
        # Generated tokens (the reply wraps them in a "general answer" label, or drops them).
        assert 0 < usage["output_tokens"] <= MAX_TOKENS
        streamed = list(model.stream("Hello"))
        assert (
            sum((c.usage_metadata or {}).get("output_tokens", 0) for c in streamed)
            == (usage["output_tokens"])
        )
        assert model.batch(["Hello"])[0].usage_metadata == usage
