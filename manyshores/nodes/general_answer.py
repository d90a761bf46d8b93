"""The model's own text as a person reads it: the same whether it is streamed or composed.

`expert` streams a lone generating expert's words and `aggregate` composes the final reply from
the same text. Both go through `ModelText`, so what was shown while generating is never taken
back: text is cleaned sentence by sentence (`CleanStream`: markup copied from the prompt, such
as citation markers and source ids, taken out first; then loops and half sentences), and whether
the model's text is shown at all (the language it is written in, a question repeated back) is
decided on the first words of its first sentence, which both see alike.
"""

from __future__ import annotations

from typing import Any

from manyshores.answers.compose import no_evidence_reply
from manyshores.answers.hygiene import (
    EARLY_WORDS,
    SENTENCE_END,
    TRAILING,
    CleanStream,
    end_at_sentence,
)
from manyshores.answers.yours import topic_label
from manyshores.components import Components
from manyshores.state import culture_in_play

MIN_WRONG_LANGUAGE_CONFIDENCE = 0.5
"""A general answer the identifier places, with at least this confidence, in another language
than the question's is dropped (the 135M model often answers in English whatever it is asked
in). Higher than `common.MIN_REPLY_LANGUAGE_CONFIDENCE`: dropping loses the answer."""

_MARK = "\x00"


def _plain_words(text: str) -> list[str]:
    # Trailing commas and dashes dropped: a streamed start ends without them (`early_end`).
    return [w for w in (w.rstrip(TRAILING) for w in text.lower().split()) if w]


def echoes(answer: str, question: str) -> bool:
    """True when the answer mostly repeats the question's words."""
    asked = set(_plain_words(question))
    said = _plain_words(answer)
    return bool(said) and sum(w in asked for w in said) / len(said) > 0.7


class ModelText:
    """One expert's generated text, cleaned and checked as it arrives.

    `feed` and `finish` return the newly shown text; `text` is all of it, and `why` says why
    nothing is shown (None while it may still be)."""

    def __init__(self, question: str, lang: str, components: Components) -> None:
        self.question = question
        self.lang = lang
        self.components = components
        self.stream = CleanStream()
        self.text = ""
        self.why: str | None = None
        allowed = components.settings.general_answer_languages
        if "*" not in allowed and lang not in allowed:
            self.why = f"the base model's {lang} text is not shown (general_answer_languages)"
        self._checked = False
        self._held = ""
        """Text released before the words it is judged on are known (not shown yet)."""

    def feed(self, piece: str) -> str:
        return "" if self.why else self._gate(self.stream.feed(piece), final=False)

    def finish(self) -> str:
        if self.why:
            return ""
        shown = self._gate(self.stream.finish(), final=True)
        if not self.text and self.why is None:
            # A reply that was all markup (`[1] (culture: MEX; source: …)`) says why in the trace.
            self.why = (
                "only markup copied from the prompt" if self.stream.markup_removed else "empty"
            )
        return shown

    def _gate(self, new: str, final: bool) -> str:
        if not self._checked:
            judged = judged_words(self.stream.text, self.question, final)
            if judged is None:
                self._held += new
                return ""
            if judged:
                self._checked = True
                self.why = self._check(judged)
            new, self._held = self._held + new, ""
        if self.why:
            return ""
        self.text += new
        return new

    def _check(self, sentence: str) -> str | None:
        if echoes(sentence, self.question):
            return "it repeats the question"
        said = self.components.get_detector().language_of(sentence)
        if said is not None and said[0] != self.lang and said[1] >= MIN_WRONG_LANGUAGE_CONFIDENCE:
            return f"written in {said[0]}, asked in {self.lang}"
        return None


def judged_words(text: str, question: str, final: bool) -> str | None:
    """The words the model's text is judged on (language, a question repeated back): its first
    sentence (of the first line), or, when that is long, its shortest start of at least
    `EARLY_WORDS` words that does not merely repeat the question. The same words whether the
    text was streamed (a long first sentence is shown before it ends) or composed at once; None
    while the text so far cannot tell, "" when there is no text."""
    line, _, rest = text.strip().partition("\n")
    words = line.split()
    ended = final or bool(rest)
    for k, word in enumerate(words):
        if any(ch in SENTENCE_END for ch in word):
            words, ended = words[: k + 1], True
            break
    for n in range(EARLY_WORDS, len(words) + 1):
        if not echoes(" ".join(words[:n]), question):
            # A streamed start may lack the trailing comma the whole text has: judge without.
            return end_at_sentence(" ".join(words[:n]).rstrip(TRAILING))
    return end_at_sentence(" ".join(words)) if ended else None


def usable_model_text(
    text: str, question: str, lang: str, components: Components
) -> tuple[str, str | None]:
    """The model's text cleaned, or ("", why) when it must not be shown."""
    checked = ModelText(question, lang, components)
    checked.feed(text)
    checked.finish()
    return checked.text.strip(), checked.why


def reply_culture(state: Any, lang: str) -> str | None:
    """The culture a no-evidence reply names (None when no culture is in play)."""
    posterior = state["posterior"]
    if not culture_in_play(posterior):
        return None
    return topic_label(posterior["cultures"][0]["id"], posterior, lang)


class ReplyStream:
    """The reply's words while a lone expert generates: the lines of the reply that come before
    the model's text, then that text as `ModelText` shows it. Every piece is a prefix of the
    reply `aggregate` composes from the same text."""

    def __init__(self, state: Any, components: Components, general: bool) -> None:
        lang = state.get("language") or "en"
        self.model = ModelText(state.get("query") or state["text"], lang, components)
        self.opening = self.before = ""
        if general:
            name = reply_culture(state, lang)
            without = no_evidence_reply(name, None, lang).text.split("\n")
            before = no_evidence_reply(name, _MARK, lang).text.split(_MARK)[0]
            lines = before.split("\n")
            shared = 0
            while shared < len(lines) - 1 and lines[shared] == without[shared]:
                shared += 1
            # Lines the reply has whether or not the model's text is shown come at once.
            self.opening = "".join(f"{line}\n" for line in lines[:shared])
            self.before = before[len(self.opening) :]
        self.started = False

    def feed(self, piece: str) -> str:
        out = ""
        if not self.started:
            self.started = True
            out = self.opening
        shown = self.model.feed(piece)
        if shown and self.before:
            shown, self.before = self.before + shown.lstrip(), ""
        return out + shown
