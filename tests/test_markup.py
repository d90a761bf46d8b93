"""Generated text never shows markup: citation markers, source ids and prompt fragments are taken
out the same way whether the text is streamed or composed at once."""

from __future__ import annotations

import random
import re
from types import SimpleNamespace

import pytest

from manyshores.answers.hygiene import CleanStream, clean_reply
from manyshores.answers.markup import MarkupFilter, strip_markup
from manyshores.components.expert_backend import GENERAL_SYSTEM_PROMPT
from manyshores.experts.prompts import task_messages
from manyshores.web.sanitize import format_context_block

OBSERVED = (
    'The answer to the question "What do we eat at Christmas?" is: [1] (culture: MEX; source: '
    "7f242e41a3859d507d6c4222f2222) The answer is: [1] (culture: MEX; source: "
    "7f242e41a3859d507d6c4222f2222) The answer is: [1]"
)
"""A general answer the default model wrote with Mexico's passages in its prompt."""

SOURCES = [
    {
        "kind": "memory",
        "ref": "7f242e41a3859d507d6c4222f2222",
        "snippet": "Christmas Eve dinner: tamales (5); pozole (3)",
        "culture": "MEX",
        "score": 0.8,
    },
    {
        "kind": "memory",
        "ref": "blend:MEX#New_Year_12",
        "snippet": "New Year: grapes (4)",
        "culture": "MEX",
        "score": 0.7,
    },
]

LEAKS = re.compile(
    r"\[\d+\]|source\s*:|culture\s*:|[0-9a-f]{12,}|blend:|RETRIEVED|quoted data|<\|"
    r"|helpful assistant|Background notes|short phrase only|person from|^\s*assistant\b",
    re.IGNORECASE | re.MULTILINE,
)
"""Anything of the prompt or its sources a person must not read."""


def _prompt_copies() -> list[str]:
    """Generated texts that copy the real prompts (as the small model does) around an answer."""
    block = format_context_block(SOURCES)
    adapter = task_messages("MEX", "What do people eat at Christmas?", context=["tamales (5)"])
    return [
        f"{block}\nPeople eat tamales at Christmas.",
        f"{GENERAL_SYSTEM_PROMPT} People eat tamales at Christmas.",
        f"{adapter[0]['content']} People eat tamales at Christmas.",
        f"{adapter[1]['content']}\nAnswer: People eat tamales at Christmas.",
        "People eat tamales [1] and pozole [2][3] at Christmas (culture: MEX; source: "
        "blend:MEX#New_Year_12).",
        "<|im_start|>assistant\nPeople eat tamales at Christmas.<|im_end|>",
        "The answer is: [1]\n\nPeople eat tamales at Christmas.",
        f"People eat tamales at Christmas, source: {SOURCES[0]['ref']} and more.",
    ]


@pytest.mark.parametrize("text", _prompt_copies())
def test_prompt_parts_and_citations_are_taken_out_and_the_answer_stays(text):
    cleaned = clean_reply(text)
    assert not LEAKS.search(cleaned), cleaned
    assert "tamales" in cleaned and cleaned.endswith(".")
    assert "  " not in cleaned and " ." not in cleaned


def test_the_observed_general_answer_shows_nothing():
    from manyshores.nodes.general_answer import usable_model_text

    components = SimpleNamespace(
        settings=SimpleNamespace(general_answer_languages=["en"]),
        get_detector=lambda: SimpleNamespace(language_of=lambda _t: ("en", 0.9)),
    )
    text, why = usable_model_text(OBSERVED, "What do we eat at Christmas?", "en", components)
    assert text == "" and why == "only markup copied from the prompt"
    left = "The answer to the question is:\n\nThe answer is:\n\nThe"
    assert clean_reply(left) == ""
    # After a blank line, a reply with no sentence end has started over: its first part stays.
    started_over = "People celebrate with family, and the answer is:\n\nThey celebrate with"
    assert clean_reply(started_over) == "People celebrate with family."


@pytest.mark.parametrize(
    "text",
    [
        "Prices rose 2.5 percent (about a third), e.g. in Spain, in 1998 and 2004.",
        "At 12:00 people eat; the café sells decaf and a deadbeef sandwich.",
        "Answers vary: some say rice, others say bread.",
        "The answer is rice with beans.",
        "Use a cultural source: books and elders.",
        "Grandma (my mother's mother) cooks for 20 people.",
    ],
)
def test_text_that_is_not_markup_is_kept_whole(text):
    assert strip_markup(text) == text
    assert clean_reply(text) == text


STREAMED = [
    OBSERVED,
    *_prompt_copies(),
    "We eat lamb. [1]. And eggs [2] at Easter.",
    "salt[1]and pepper are on every table <|im_end|> in Greece.",
    "Families eat together (source: 7f242e41a3859d507d6c4222f2222) and the answer is:\n\nThey",
    "One two three four five six seven eight nine ten eleven twelve thirteen [1] fourteen "
    "fifteen (culture: GRC; source: blend:GRC#x) sixteen. Done.",
]


@pytest.mark.parametrize("text", STREAMED)
def test_markup_is_removed_alike_streamed_or_at_once(text):
    """What was shown while generating is the start of the reply composed at once."""
    at_once = clean_reply(text)
    whole = strip_markup(text)
    rng = random.Random(len(text))
    for _ in range(25):
        markup, stream, shown_m, shown, i = MarkupFilter(), CleanStream(), [], [], 0
        while i < len(text):
            step = rng.randint(1, 7)
            shown_m.append(markup.feed(text[i : i + step]))
            shown.append(stream.feed(text[i : i + step]))
            assert whole.startswith("".join(shown_m))
            assert at_once.startswith("".join(shown).strip())
            i += step
        shown_m.append(markup.finish())
        shown.append(stream.finish())
        assert "".join(shown_m) == whole
        assert "".join(shown).strip() == at_once
    assert not LEAKS.search(at_once)
    assert ".." not in at_once and " ." not in at_once and "  " not in at_once


def test_a_general_answer_streams_and_composes_without_markup(tmp_path):
    """Through the graph: the model's copied markup is never streamed nor in the reply."""
    from dataclasses import dataclass

    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant
    from manyshores.graph.checkpoints import open_checkpointer
    from tests.fakes import FakeExpertBackend, fake_components

    said = (
        "At Christmas [1] (culture: JPN; source: 7f242e41a3859d507d6c4222f2222) families eat "
        "fried chicken and strawberry cake [2]. The answer is: [1]\n\nThe"
    )

    @dataclass
    class CopyingBackend(FakeExpertBackend):
        def answer(self, choices, *, text, task, sources, conversation, on_token=None):
            out = super().answer(
                choices, text=text, task=task, sources=sources, conversation=conversation
            )
            for i in range(0, len(said), 3):  # streamed a few characters at a time
                if on_token is not None:
                    on_token(said[i : i + 3])
            return [{**a, "text": said} for a in out]

    settings = Settings(home=tmp_path, tavily_api_key=None)
    components = fake_components(settings=settings, experts=CopyingBackend())
    assistant = CultureAssistant(components, open_checkpointer(tmp_path / "c.sqlite", 5.0))
    streamed, steps = [], []
    question = "I'm from Japan. What do we eat at Christmas?"
    for event in assistant.stream(question, thread_id="mk"):
        if event.node == "token":
            streamed.append(event.update["text"])
        elif event.is_step:
            steps.append(event.node)
    answer = assistant.result("mk", steps).answer
    shown = "".join(streamed)
    assert "fried chicken" in shown and answer.startswith(shown.rstrip())
    general = answer.splitlines()[1]
    assert general.endswith("families eat fried chicken and strawberry cake.")
    assert not LEAKS.search(answer) and "The answer is" not in answer, answer
