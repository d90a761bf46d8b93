"""Message content as plain text: LangChain content may be a string or a list of blocks."""

from __future__ import annotations

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
