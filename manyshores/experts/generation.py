"""Free-text generation on the base model, with an optional per-token callback for streaming."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manyshores.experts.base_model import BaseModel


def chat_input_ids(base: BaseModel, messages: list[dict[str, str]], reserve: int = 0):  # -> Tensor
    """Token ids for a chat, using the tokenizer's chat template when it has one.

    Longer than the model's context (less `reserve` tokens for the answer): the oldest tokens
    are dropped, since the newest turn is the one being answered.
    """
    tok: Any = base.tokenizer
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
    base: BaseModel,
    messages: list[dict[str, str]],
    max_new_tokens: int = 96,
    counts: list[int] | None = None,
) -> Iterator[str]:
    """Yield the answer piece by piece as it is generated (greedy, so it is reproducible).

    `counts`, when given, receives the number of generated tokens once generation is done."""
    import torch
    from transformers import TextIteratorStreamer

    ids = chat_input_ids(base, messages, reserve=max_new_tokens)
    streamer = TextIteratorStreamer(base.tokenizer, skip_prompt=True, skip_special_tokens=True)
    errors: list[BaseException] = []
    generated: list[int] = []

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
            generated.append(int(out.shape[1] - ids.shape[1]))
        except BaseException as exc:  # surfaced in the caller's thread below
            errors.append(exc)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    yield from streamer
    worker.join()
    if errors:
        raise errors[0]
    if counts is not None:
        counts.extend(generated)


def generate_text(
    base: BaseModel,
    messages: list[dict[str, str]],
    max_new_tokens: int = 96,
    on_token: Callable[[str], None] | None = None,
    counts: list[int] | None = None,
) -> str:
    """The whole generated answer, stripped (`counts`: see `stream_text`)."""
    pieces: list[str] = []
    for piece in stream_text(base, messages, max_new_tokens, counts):
        pieces.append(piece)
        if on_token is not None:
            on_token(piece)
    return "".join(pieces).strip()


def generate_batch(
    base: BaseModel,
    chats: list[list[dict[str, str]]],
    max_new_tokens: int = 96,
    *,
    model: Any = None,
    prefill: str = "",
    stop_strings: list[str] | None = None,
    counts: list[int] | None = None,
) -> list[str]:
    """Greedy replies to several chats in one left-padded `generate` call (the continuations
    only, not stripped). Greedy on left-padded rows gives the replies one-by-one calls would (up
    to float rounding), several times faster on CPU.

    `model` generates instead of the base model (a PEFT copy with an adapter active); `prefill`
    is text every reply starts with (fed to the model, not returned); generation stops at any
    of `stop_strings`. `counts`, when given, receives each reply's generated token count (its
    end-of-sequence token included, padding not)."""
    import torch

    from manyshores.experts.batching import left_pad, pad_id

    if not chats:
        return []
    tok: Any = base.tokenizer
    extra = tok(prefill, add_special_tokens=False)["input_ids"] if prefill else []
    rows = [
        chat_input_ids(base, m, reserve=max_new_tokens + len(extra))[0].cpu().tolist() + extra
        for m in chats
    ]
    pad = pad_id(tok)
    batch = left_pad(rows, pad)
    stop: dict[str, Any] = {"stop_strings": stop_strings, "tokenizer": tok} if stop_strings else {}
    runner: Any = model if model is not None else base.model
    with torch.inference_mode():
        out = runner.generate(
            input_ids=batch.ids.to(base.device),
            attention_mask=batch.mask.to(base.device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=pad,
            **stop,
        )
    new = out[:, batch.width :]
    if counts is not None:
        eos = tok.eos_token_id
        for row in new.tolist():
            n = len(row)
            for j, t in enumerate(row):
                if t in (eos, pad):
                    n = j + 1 if t == eos else j
                    break
            counts.append(n)
    return [str(t) for t in tok.batch_decode(new, skip_special_tokens=True)]
