from langchain_core.messages import HumanMessage

from manyshores.content import content_text
from manyshores.nodes.common import message_text


def test_text_blocks_are_joined_and_other_blocks_dropped():
    blocks = [
        {"type": "text", "text": "I'm from Kenya."},
        {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
        "What do we eat?",
    ]
    assert content_text(blocks) == "I'm from Kenya.\nWhat do we eat?"
    assert message_text(HumanMessage(content=blocks)) == "I'm from Kenya.\nWhat do we eat?"


def test_plain_and_missing_content():
    assert content_text("hello") == "hello"
    assert content_text(None) == ""
    assert content_text([]) == ""
