"""Free-text generation on the base model, with an optional per-token callback for streaming."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from manyshores.timing import count, phase, record

if TYPE_CHECKING:
    from manyshores.experts.base_model import BaseModel


def chat_input_ids(base: BaseModel, messages: list[dict[str, str]], reserve: int = 0):  # -> Tensor
    """Token ids for a chat, using the tokenizer's chat template when it has one.

    Longer than the model's context (less `reserve` tokens for the answer): the oldest tokens
    are dropped, since the newest turn is the one being answered.
    """
    tok: Any = base.tokenizer
    with phase("tokenise"):
        if getattr(tok, "chat_template", None):
            enc = tok.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            ids: Any = enc["input_ids"]
        else:
            text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
            ids = tok(text, return_tensors="pt")["input_ids"]
    limit = getattr(base.model.config, "max_position_embeddings", None)
    if limit and ids.shape[1] > limit - reserve:
        ids = ids[:, ids.shape[1] - (limit - reserve) :]
    return ids.to(base.device)


def stream_text(
    base: BaseModel, messages: list[dict[str, str]], max_new_tokens: int = 96
) -> Iterator[str]:
    """Yield the answer piece by piece as it is generated (greedy, so it is reproducible)."""
    import torch
    from transformers import TextIteratorStreamer

    ids = chat_input_ids(base, messages, reserve=max_new_tokens)
    streamer = TextIteratorStreamer(base.tokenizer, skip_prompt=True, skip_special_tokens=True)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with torch.inference_mode():
                out = base.model.generate(  # type: ignore[operator]
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=base.tokenizer.pad_token_id,
                    streamer=streamer,
                )
            count("generated", int(out.shape[1] - ids.shape[1]))
        except BaseException as exc:  # surfaced in the caller's thread below
            errors.append(exc)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True)
    start = time.perf_counter()
    worker.start()
    first = None
    for piece in streamer:
        if first is None:
            first = time.perf_counter()
            record("prefill", first - start)
        yield piece
    worker.join()
    if first is not None:
        record("decode", time.perf_counter() - first)
    if errors:
        raise errors[0]


def generate_text(
    base: BaseModel,
    messages: list[dict[str, str]],
    max_new_tokens: int = 96,
    on_token: Callable[[str], None] | None = None,
) -> str:
    """The whole generated answer, stripped."""
    pieces: list[str] = []
    for piece in stream_text(base, messages, max_new_tokens):
        pieces.append(piece)
        if on_token is not None:
            on_token(piece)
    return "".join(pieces).strip()
