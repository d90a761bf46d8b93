"""Message content as plain text: LangChain content may be a string or a list of blocks."""

from __future__ import annotations

import unicodedata
from typing import Any


def content_text(content: Any) -> str:
    """The text of a message's content: text blocks joined by newlines, other blocks dropped.

    Newlines, not "", so two text blocks never fuse their edge words (which detection and the
    prompts would both read as one word); images and tool blocks carry no text to answer.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type", "text") == "text":
                parts.append(str(block.get("text", "")))
        return "\n".join(parts)
    return str(content)


BLANK_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
"""Unicode categories that draw nothing on their own: controls, format characters (zero-width
space and joiners, direction marks, BOM), unassigned and private code points, separators, and
combining marks with no letter to sit on."""
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
"""Characters classed as letters or symbols that render as blank space (Hangul fillers, the
blank Braille pattern)."""


def has_visible_text(text: str) -> bool:
    """True when `text` has at least one character that shows: a message of zero-width or
    other invisible characters is as empty as one of spaces."""
    return any(
        not ch.isspace()
        and ch not in BLANK_LETTERS
        and unicodedata.category(ch) not in BLANK_CATEGORIES
        for ch in text
    )


MIN_LETTER_SHARE = 0.3
"""A message of 20+ visible characters needs at least this share of letters to be a question."""


def check_message_text(text: str) -> str:
    """The message unchanged, or InvalidInputError when it cannot be a question to answer.

    Binary data decoded as text (NUL bytes, control characters, replacement characters) and
    text that is mostly not letters are refused before any model work: answering them costs
    minutes and can only produce noise. Short messages (`2+2?`) always pass.
    """
    from manyshores.errors import InvalidInputError

    if not isinstance(text, str) or not has_visible_text(text):
        raise InvalidInputError("the message is empty: ask a question or say something")
    visible = [ch for ch in text if not ch.isspace()]
    control = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\n\r\t") or ch == "\x7f")
    broken = text.count("\ufffd")
    if "\x00" in text or control > max(2, len(text) // 100) or broken > max(2, len(text) // 50):
        raise InvalidInputError(
            "the message looks like binary data, not text: send the question as plain text"
        )
    if len(visible) >= 20:
        letters = sum(1 for ch in visible if ch.isalpha())
        if letters / len(visible) < MIN_LETTER_SHARE:
            raise InvalidInputError(
                f"the message is mostly not letters ({letters} of {len(visible)} characters): "
                "ask a question in words"
            )
    return text
