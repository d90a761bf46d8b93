"""Continuing a streamed answer on another runtime without sending any of it twice.

An answer streamed from a server (vLLM, a chat model) can fail half-way; the caller then asks
another runtime (in-process) for the whole answer. What the client already received cannot be
taken back, so the fallback's text is passed on only past what was sent:

    sent = SentText(on_token)          # wraps the first runtime's callback
    ... the first runtime streams through `sent`, then fails ...
    resume = sent.resume()             # the fallback's callback
    ... the fallback streams its whole answer through `resume` ...
    text, cut = resume.finish(text)    # the final answer: always begins with what was sent

When the fallback's answer begins with the sent text (greedy decoding of the same model on
the same prompt: the usual case), the client sees that answer exactly once. When it says
something else, nothing more is sent and the final answer is the sent text, cut short (`cut`):
the caller's note says so.
"""

from __future__ import annotations

from collections.abc import Callable


class SentText:
    """A stream callback that remembers the text it passed on."""

    def __init__(self, on_token: Callable[[str], None] | None) -> None:
        self.on_token = on_token
        """The caller's callback (None: nothing is streamed, nothing is remembered)."""
        self.sent = ""
        """Everything passed on so far, as the runtime produced it."""

    def __call__(self, piece: str) -> None:
        self.sent += piece
        if self.on_token is not None:
            self.on_token(piece)

    @property
    def callback(self) -> Callable[[str], None] | None:
        """This wrapper, or None when the caller streams nothing (runtimes skip the work)."""
        return self if self.on_token is not None else None

    def resume(self) -> Resume:
        """The callback for a fallback that produces the whole answer again."""
        return Resume(self.sent, self.on_token)


class Resume:
    """Passes a fallback's text on only past `sent` (leading whitespace aside, which answers
    drop); stops passing anything once the fallback says something else."""

    def __init__(self, sent: str, on_token: Callable[[str], None] | None) -> None:
        self.sent = sent.lstrip()
        """What the client already has."""
        self.on_token = on_token
        self.got = ""
        """The fallback's text so far."""
        self.passed = 0
        """Characters of the fallback's (left-stripped) text the client has now."""
        self.diverged = False
        """True once the fallback's text left the sent text."""

    def __call__(self, piece: str) -> None:
        if not self.sent:  # nothing was sent: the fallback's stream passes unchanged
            if self.on_token is not None:
                self.on_token(piece)
            return
        if self.diverged:
            return
        self.got += piece
        got = self.got.lstrip()
        shared = min(len(got), len(self.sent))
        if got[:shared] != self.sent[:shared]:
            self.diverged = True
            return
        start = max(self.passed, len(self.sent))
        if len(got) > start:
            self.passed = len(got)
            if self.on_token is not None:
                self.on_token(got[start:])

    @property
    def callback(self) -> Callable[[str], None] | None:
        """This resume, or None when the caller streams nothing."""
        return self if self.on_token is not None else None

    def finish(self, text: str) -> tuple[str, bool]:
        """The final answer given the fallback's whole (stripped) answer `text`, and whether it
        is the sent text cut short because the fallback could not continue it."""
        sent = self.sent.strip()
        if text.startswith(sent):
            return text, False
        return sent, True


CUT_NOTE = "it could not continue the text already sent, so the answer ends there"
"""Appended to a fallback's note when `Resume.finish` cut the answer."""
