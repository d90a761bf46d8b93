"""The greedy decoding loop both text runtimes stream through (transformers and llama.cpp).

A runtime supplies three steps: the next token (the argmax of what it last ran), the text of
the tokens so far, and running one more token. The loop decides the rest the same way for
both: stop at an end token, after `max_new_tokens`, or when the turn's time budget is spent;
yield text only as whole characters; count the tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from manyshores.timing import count, phase


def new_characters(text: str, emitted: str) -> str:
    """What `text` (the decoded answer so far) adds to the `emitted` part, once whole: a
    multi-byte character split over tokens decodes to U+FFFD until its last token arrives."""
    if len(text) > len(emitted) and not text.endswith("\ufffd"):
        return text[len(emitted) :]
    return ""


def greedy_stream(
    next_token: Callable[[], int],
    is_end: Callable[[int], bool],
    text_of: Callable[[list[int]], str],
    feed: Callable[[int], None],
    max_new_tokens: int,
    *,
    finish: Callable[[], None] | None = None,
    counts: list[int] | None = None,
) -> Iterator[str]:
    """Greedy decoding after the prompt's prefill, yielding text as soon as it is complete
    characters.

    `next_token()` is the most likely token after what was run; `feed(token)` runs it (timed as
    the `decode` phase); `text_of(tokens)` decodes the answer so far; `is_end(token)` says a
    token ends the answer. `finish()` runs once decoding stops, before the last text is
    yielded (a runtime keeps its cache for the conversation's next turn). `counts`, when given,
    receives the number of generated tokens, an end token included."""
    from manyshores.budget import current

    budget = current()
    tokens: list[int] = []
    emitted = ""
    ended = 0  # 1 when an end token was generated (it counts as a generated token)
    for step in range(max_new_tokens):
        token = next_token()
        if is_end(token):
            ended = 1
            break
        tokens.append(token)
        text = text_of(tokens)
        piece = new_characters(text, emitted)
        if piece:
            emitted = text
            yield piece
        if step == max_new_tokens - 1 or (budget is not None and budget.spent()):
            break
        with phase("decode"):
            feed(token)
    if finish is not None:
        finish()
    count("generated", len(tokens))
    if counts is not None:
        counts.append(len(tokens) + ended)
    text = text_of(tokens)
    if len(text) > len(emitted):
        yield text[len(emitted) :]
