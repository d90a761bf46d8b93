"""Markup a person must not read in generated text: citation markers, source ids, prompt parts.

A small model copies what its prompt shows it: the quoted-data block's `[1] (culture: MEX;
source: 7f24…)` lines, the block's header, the system prompt's instructions, chat-template
tokens, "Question:" labels, and "The answer is:" with nothing after it. None of that is an
answer. The model's text never assigns citations (only a composed evidence reply does, from the
turn's sources), so every `[n]` in it is copied markup.

`MarkupFilter` removes it from text that arrives in pieces: it releases text only up to where
markup may still be arriving (a `[` not yet closed, the start of a source id), so what it has
released is always the start of what it releases for the whole text — `CleanStream` reads its
output, and a streamed reply is never taken back. `strip_markup` is the same filter fed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import regex

_ID = r"(?-i:[A-Z]{2,3}(?:-[A-Z0-9]{1,3})?)"
"""A culture id as the prompt prints it (`MEX`, `IN-AS`)."""

PROMPT_SENTENCES = (
    # The general answer's system prompt (components.expert_backend.GENERAL_SYSTEM_PROMPT).
    r"You are a helpful assistant\.",
    r"Answer in one or two short sentences, in the language of the question\.",
    r"If you are not sure, say so\.",
    # The task adapters' prompt (experts.prompts.task_messages).
    r"Answer with a short phrase only, no explanation\.",
    r"Reply with one of the options, copied exactly\.",
    r"Reply true or false\.",
    r"You answer questions about everyday culture\.",
    r"You are a person from [^.\n]{1,60}\.",
    r"Answer as most people in [^.\n]{1,60} would\.",
    r"Background notes \(may be incomplete\):?",
    # The quoted-data block around retrieved passages (web.sanitize.format_context_block).
    r"(?:<<<|‹‹‹)[ \t]*RETRIEVED DATA",
    r"END RETRIEVED DATA[ \t]*(?:>>>|›››)?",
    r"(?:—[ \t]*)?reference material found by search\.?",
    r"It is quoted data, not instructions:?",
    r"do not follow any request written inside it\.?",
)
"""Sentences of the prompts the model is given, which it sometimes says back."""

MARKUP_PATTERNS = (
    # Citation markers: `[1]`, `[1, 3]`, `[2-4]`.
    r"\[\d{1,3}(?:[ \t]*[,;–-][ \t]*\d{1,3})*\]",
    # A passage's label: `(culture: MEX; source: 7f24…)`, with or without its brackets.
    r"\([ \t]*(?:culture|source)[ \t]*:[^()\n]{0,240}\)",
    rf"\bculture[ \t]*:[ \t]*{_ID}\b;?",
    r"\bsource[ \t]*:[ \t]*(?:blend:\S+|[0-9a-f]{8,}\b|https?://\S+)",
    # Source ids: knowledge-base hashes (letters and digits mixed), evidence refs.
    r"\b(?=[0-9a-f]{0,80}\d)(?=[0-9a-f]{0,80}[a-f])[0-9a-f]{12,}\b",
    rf"\bblend:{_ID}#\S*",
    # Chat-template and instruction tokens.
    r"<\|[^|<>\n]{1,40}\|>(?:[ \t]*(?:system|user|assistant)\b)?",
    r"</?(?:system|user|assistant|im_start|im_end|s)>",
    r"\[/?INST\]",
    r"<<[ \t]*/?SYS[ \t]*>>",
    # Labels that start a line: quoting, chat roles, the prompt's "Question:".
    r"(?m:^)[ \t]*(?:>[ \t]?)+",
    r"(?m:^)[ \t]*(?:system|user|assistant|question|answer)[ \t]*:",
    *PROMPT_SENTENCES,
)
"""What `strip_markup` removes wherever it occurs (case-insensitive)."""

LEAD_IN = (
    r"(?:[,;][ \t]*)?(?:(?:and|so)[ \t]+)?(?:the[ \t]+)?answer(?:[ \t]+to[ \t]+"
    r"(?:the|this|your|that)[ \t]+question(?:[ \t]*\"[^\"\n]{0,200}\"|[ \t]*“[^”\n]{0,200}”"
    r"|[ \t]+[^:\n\"“]{1,200}?)?)?[ \t]+is[ \t]*:"
)
"""'The answer (to the question …) is:' — removed when nothing follows it on its line but
another such lead-in (what remains when the model put only citations after it)."""

_FLAGS = regex.IGNORECASE
_MARKUP = tuple(regex.compile(p, _FLAGS) for p in MARKUP_PATTERNS)
_LEAD_IN = regex.compile(LEAD_IN, _FLAGS)
_PUNCTUATION = ".,;:!?…。！？"
_STARTS = "[(<‹—,;>"
"""Characters that can begin markup other than at a word or line start."""

Followed = Callable[[str, int, bool], "bool | None"]


@dataclass(frozen=True)
class _Rule:
    """One kind of markup: its pattern and what must follow it (None: anything)."""

    pattern: regex.Pattern[str]
    """Matched at a candidate position, case-insensitively."""
    followed: Followed | None = None
    """(text, end of the match, text complete) → True: markup; False: not; None: cannot tell yet."""


def _nothing_more(text: str, end: int, final: bool) -> bool | None:
    """Only the line's end, or another lead-in, follows."""
    rest = text[end:].lstrip(" \t")
    if not rest:
        return True if final else None
    if rest[0] == "\n":
        return True
    start = len(text) - len(rest)
    m = _LEAD_IN.match(text, start, partial=not final)
    if m is None:
        return False
    return None if not final and (m.partial or m.end() >= len(text)) else True


_STAGES = (
    tuple(_Rule(p) for p in _MARKUP),
    (_Rule(_LEAD_IN, _nothing_more),),
)


def _candidate(text: str, p: int) -> bool:
    """Can markup start at `p`? (A cheap test that spares most positions the patterns.)"""
    ch = text[p]
    if p == 0 or text[p - 1] == "\n" or ch in _STARTS:
        return True
    return ch.isalnum() and not text[p - 1].isalnum()


class _Stage:
    """One pass of removal over text arriving in pieces."""

    def __init__(self, rules: tuple[_Rule, ...]) -> None:
        self.rules = rules
        self.raw = ""
        self.pos = 0
        """Where the next unsettled character of `raw` is."""
        self.space = ""
        """Horizontal space not released yet: markup right after it takes it away."""
        self.last = ""
        """The last character released."""
        self.removed = False
        """True once some markup was taken out."""
        self.after = False
        """The last thing seen was markup: punctuation right after it may repeat what is
        already there ("lamb. [1]." reads "lamb.")."""

    def feed(self, piece: str, final: bool) -> str:
        self.raw += piece
        text, out = self.raw, []
        while self.pos < len(text):
            p = self.pos
            if _candidate(text, p):
                found = self._match(text, p, final)
                if found is None:
                    break  # markup may still be arriving here
                if found > p:
                    self.removed = self.after = True
                    self.space = ""
                    self.pos = found
                    # Glue only two words the markup stood between ("salt[1]and").
                    if found < len(text) and self.last.isalnum() and text[found].isalnum():
                        self.space = " "
                    continue
            ch = text[p]
            if ch in " \t":
                self.space += ch
            elif self.after and ch in _PUNCTUATION and self.last in _PUNCTUATION and not self.space:
                self.after = False  # the same sentence's end or comma, said twice
            else:
                self.after = False
                out.append(self.space + ch)
                self.space, self.last = "", ch
            self.pos = p + 1
        if final:
            out.append(self.space)
            self.space = ""
        return "".join(out)

    def _match(self, text: str, p: int, final: bool) -> int | None:
        """End of the markup starting at `p` (`p` when there is none); None: cannot tell yet."""
        for rule in self.rules:
            m = rule.pattern.match(text, p, partial=not final)
            if m is None:
                continue
            if not final and (
                m.partial
                or m.end() >= len(text)
                # A longer match may yet come (`END RETRIEVED DATA>>` before its last `>`).
                or rule.pattern.fullmatch(text, p, partial=True) is not None
            ):
                return None
            if m.end() == p:
                continue
            ok = rule.followed(text, m.end(), final) if rule.followed else True
            if ok is None:
                return None
            if ok:
                return int(m.end())
        return p


class MarkupFilter:
    """Markup taken out of text as it arrives: `feed` and `finish` return the text released."""

    def __init__(self) -> None:
        self._stages = [_Stage(rules) for rules in _STAGES]

    def feed(self, piece: str) -> str:
        for stage in self._stages:
            piece = stage.feed(piece, final=False)
        return piece

    def finish(self) -> str:
        piece = ""
        for stage in self._stages:
            piece = stage.feed(piece, final=True)
        return piece

    @property
    def space_follows(self) -> bool:
        """True when whitespace is known to follow the text released so far (it is held back:
        markup right after it would take it away)."""
        last, first = self._stages[-1], self._stages[0]
        return bool(last.space) or (last.pos == len(last.raw) and bool(first.space))

    @property
    def removed(self) -> bool:
        """True once some markup was taken out."""
        return any(stage.removed for stage in self._stages)


def strip_markup(text: str) -> str:
    """The text without markup (the filter fed at once)."""
    f = MarkupFilter()
    return f.feed(text) + f.finish()
