"""Continuing a streamed answer on a fallback: the caller receives every character once."""

from __future__ import annotations

from manyshores.runtime.resume import SentText


def _run(sent_pieces: list[str], fallback_pieces: list[str]) -> tuple[list[str], str, bool]:
    got: list[str] = []
    sent = SentText(got.append)
    for piece in sent_pieces:
        sent(piece)
    resume = sent.resume()
    for piece in fallback_pieces:
        resume(piece)
    text, cut = resume.finish("".join(fallback_pieces).strip())
    return got, text, cut


def test_a_fallback_that_continues_the_sent_text_sends_only_the_rest():
    # Pieces split elsewhere, leading whitespace the first runtime dropped.
    got, text, cut = _run(["Tea is", " hot"], [" Te", "a is hot", " and sweet", "."])
    assert got == ["Tea is", " hot", " and sweet", "."]
    assert "".join(got) == text == "Tea is hot and sweet." and not cut


def test_a_fallback_that_says_something_else_sends_nothing_more():
    got, text, cut = _run(["Tea is", " hot"], ["Tea was", " cold and", " bitter."])
    assert got == ["Tea is", " hot"] and text == "Tea is hot" and cut


def test_a_fallback_shorter_than_the_sent_text_leaves_the_sent_text():
    got, text, cut = _run(["Tea is hot", " and sweet"], ["Tea is", " hot"])
    assert "".join(got) == text == "Tea is hot and sweet" and cut


def test_with_nothing_sent_the_fallback_passes_unchanged():
    got, text, cut = _run([], [" ", "Tea", " is hot."])
    assert got == [" ", "Tea", " is hot."] and text == "Tea is hot." and not cut
