"""Option probabilities from a chat model: its log-probabilities where the server returns them,
else a few sampled answers counted.

    scorer = ChatOptionScorer(chat_text, samples=5)
    found = scorer.score(survey_messages(question, options, None, persona_line), len(options))
    found.probs     # one probability per option
    found.method    # "logprobs" or "sampling"

An OpenAI-compatible server (OpenAI, vLLM's server, llama.cpp's server, recent Ollama) answers
`logprobs: true, top_logprobs: k` with the first answer token's `k` most likely tokens: the
option letters among them, summed (`A` and ` A` are one letter), give the distribution, the
letters outside the top `k` sharing what is left. A server that returns none (older Ollama,
most hosted non-OpenAI providers through their own LangChain class) is asked for one option
`samples` times at temperature 1 and the answers are counted, with half a count added to every
option (a few samples never rule an option out). Which way a model goes is decided on its first
question and kept (`ChatOptionScorer.logprobs`); the trace says which (`OptionScores.method`).
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from manyshores.runtime.chat_text import ChatModelText
from manyshores.runtime.scoring import LETTERS
from manyshores.runtime.text import TextRuntimeError

TOP_LOGPROBS = 20
"""Tokens asked for at the answer's first position: vLLM's default cap (`--max-logprobs`) and
OpenAI's maximum."""
LOGPROB_PROVIDERS = frozenset({"openai"})
"""Providers whose LangChain class passes `logprobs` through (any OpenAI-compatible server);
the others are sampled from the start."""
SAMPLES = 5
"""Answers sampled per question when the server returns no log-probabilities."""
SAMPLE_TEMPERATURE = 1.0
"""The model's own distribution: counting greedy answers would only repeat one option."""
SAMPLE_PRIOR = 0.5
"""Counts added to every option before normalising (Jeffreys' prior): five samples that never
named an option do not make it impossible, which a product with survey memory would keep."""
SAMPLE_MAX_TOKENS = 8
"""Room for a letter and its punctuation, or a short option's words."""

Method = Literal["logprobs", "sampling"]

_LEAD = re.compile(
    r"^[\s\"'(\[*]*(?:(?:option|answer)\s*:?\s*)?([A-Za-z])(?:[.):\]*,]|\s*$|\s*\n)", re.I
)
"""An answer that starts with an option's letter: `B`, `(B)`, `B. Rather…`, `Answer: B`; not
the article of "A typical person…"."""


@dataclass(frozen=True)
class OptionScores:
    """One question's option distribution from the chat model, and how it was found."""

    probs: list[float]
    """One probability per option (sums to 1)."""
    method: Method
    """`logprobs` (the server's log-probabilities) or `sampling` (answers counted)."""
    requests: int
    """Requests it took."""
    note: str = ""
    """Why sampling was used where log-probabilities were asked for (empty otherwise)."""


def letter_index(token: str, n: int, *, whole: bool = True) -> int | None:
    """The option a token or an answer names by its letter (`A`, ` b`, `(C)`, `D.`); None when
    it names none of the first `n`. `whole`: the token must be the letter alone (log-probability
    tokens); else the answer must start with it ("B. Rather important")."""
    text = token.strip()
    if whole:
        text = text.strip("().:*\"' ")
        if len(text) != 1:
            return None
        i = LETTERS.find(text.upper())
    else:
        m = _LEAD.match(text)
        if m is None:
            return None
        i = LETTERS.find(m.group(1).upper())
    return i if 0 <= i < n else None


def option_by_text(answer: str, options: Sequence[str]) -> int | None:
    """The option an answer copies out (a model that writes the option, not its letter)."""
    said = " ".join(answer.lower().split()).strip(" .!\"'")
    for i, option in enumerate(options):
        if said == " ".join(option.lower().split()) or said.startswith(option.lower() + "."):
            return i
    return None


def distribution_from_top(top: Sequence[dict[str, Any]], n: int) -> list[float] | None:
    """Option probabilities from the top tokens at the answer's first position (`token`,
    `logprob`); None when no option letter is among them. A letter outside the top tokens gets an
    equal share of the probability they leave, at most the least likely listed token's (it
    ranked below that one)."""
    mass = [0.0] * n
    listed = 0.0
    least = 1.0
    for entry in top:
        try:
            p = math.exp(float(entry["logprob"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
        listed += p
        least = min(least, p)
        i = letter_index(str(entry.get("token", "")), n)
        if i is not None:
            mass[i] += p
    if not any(mass):
        return None
    missing = [i for i in range(n) if mass[i] == 0.0]
    if missing:
        share = min(max(0.0, 1.0 - listed) / len(missing), least)
        for i in missing:
            mass[i] = max(share, 1e-9)
    total = sum(mass)
    return [m / total for m in mass]


def first_top_logprobs(message: Any) -> list[dict[str, Any]] | None:
    """The top tokens of the first answer position from a LangChain message's metadata
    (OpenAI's `logprobs.content[0].top_logprobs`), or None when the server sent none."""
    meta = getattr(message, "response_metadata", None) or {}
    logprobs = meta.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content") or []
    if not content or not isinstance(content[0], dict):
        return None
    top = content[0].get("top_logprobs")
    if not top:
        first = content[0]
        return [first] if "logprob" in first else None
    return [dict(t) for t in top if isinstance(t, dict)]


def _text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")


class ChatOptionScorer:
    """A chat model's probabilities over a question's options (see the module docstring)."""

    def __init__(
        self, chat: ChatModelText, samples: int = SAMPLES, logprobs: bool | None = None
    ) -> None:
        self.chat = chat
        """The chat model (its timeout, fallback note and down-time apply to every request)."""
        self.samples = max(1, samples)
        """Answers sampled per question when there are no log-probabilities."""
        self.logprobs: bool | None = (
            logprobs
            if logprobs is not None
            else (None if chat.provider in LOGPROB_PROVIDERS else False)
        )
        """True: the server returns log-probabilities; False: it does not (sampled); None: not
        known until the first question."""
        self.why_sampled = (
            ""
            if self.logprobs is not False
            else (f"the {chat.provider} provider returns no log-probabilities")
        )
        """Why the options are sampled (for the trace)."""

    @property
    def name(self) -> str:
        return self.chat.name

    def score(
        self,
        messages: list[dict[str, str]],
        options: Sequence[str],
    ) -> OptionScores:
        """The distribution over `options` for a chat asking one option question (`messages`
        end with the question and its lettered options). Raises `TextRuntimeError` when the
        model fails (silent, unreachable, an error)."""
        if self.logprobs is not False:
            found = self._from_logprobs(messages, options)
            if found is not None:
                return found
        return self._from_samples(messages, options)

    def _from_logprobs(
        self, messages: list[dict[str, str]], options: Sequence[str]
    ) -> OptionScores | None:
        n = len(options)
        refused = _bad_request()
        try:
            message = self.chat.invoke(
                messages,
                refused=refused,
                max_tokens=1,
                temperature=0.0,
                logprobs=True,
                top_logprobs=TOP_LOGPROBS,
            )
        except TextRuntimeError:
            raise
        except Exception as exc:  # the server rejects the parameter: no log-probabilities there
            self.logprobs = False
            self.why_sampled = f"the server refused log-probabilities ({type(exc).__name__})"
            return None
        top = first_top_logprobs(message)
        if top is None:
            self.logprobs = False
            self.why_sampled = "the server returned no log-probabilities"
            return None
        self.logprobs = True
        probs = distribution_from_top(top, n)
        if probs is None:
            # This question's first token is no letter ("The", "Option"): its answers, counted.
            why = f"no option letter among the first answer token's top {len(top)}"
            return self._from_samples(messages, options, note=why, first_requests=1)
        return OptionScores(probs, "logprobs", 1)

    def _from_samples(
        self,
        messages: list[dict[str, str]],
        options: Sequence[str],
        note: str = "",
        first_requests: int = 0,
    ) -> OptionScores:
        count = len(options)
        params: dict[str, Any] = {
            "temperature": SAMPLE_TEMPERATURE,
            "max_tokens": SAMPLE_MAX_TOKENS,
        }

        def one(i: int) -> str:
            # A seed per sample: the same question gets the same counts on a rerun.
            extra: dict[str, Any] = {"seed": i} if self.chat.provider == "openai" else {}
            return _text(self.chat.invoke(messages, **params, **extra))

        with ThreadPoolExecutor(max_workers=min(4, self.samples)) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, one, i) for i in range(self.samples)
            ]
            answers = [f.result() for f in futures]
        counts = [0.0] * count
        named = 0
        for answer in answers:
            i = letter_index(answer, count, whole=False)
            if i is None:
                i = option_by_text(answer, options)
            if i is not None:
                counts[i] += 1
                named += 1
        if not named:
            raise TextRuntimeError(
                f"the chat model {self.chat.spec} named no option in {self.samples} answers"
            )
        total = named + SAMPLE_PRIOR * count
        probs = [(c + SAMPLE_PRIOR) / total for c in counts]
        why = note or self.why_sampled
        return OptionScores(probs, "sampling", first_requests + self.samples, why)


def _bad_request() -> type[Exception] | None:
    """The OpenAI client's 400 error (a server refusing a parameter), when it is installed."""
    try:
        from openai import BadRequestError
    except ImportError:
        return None
    return BadRequestError
