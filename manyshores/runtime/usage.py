"""Token counts of an expert's work, as the base model's tokenizer counts them (usage reports).

Input: the prompt the expert saw, tokenised exactly as it was fed (chat template included; a
soft prompt's virtual tokens are embeddings, not tokens). Output: the tokens the decoder
generated, reported by the decoders themselves (`counts=` of `generate_text` / `decode_rows`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from manyshores.runtime.base_model import BaseModel


def chat_prompt_tokens(base: BaseModel, messages: list[dict[str, str]], reserve: int = 0) -> int:
    """Tokens of a generation prompt, cut to the context as `generate_text` cuts it."""
    from manyshores.runtime.generation import chat_input_ids

    return int(chat_input_ids(base, messages, reserve=reserve).shape[1])
