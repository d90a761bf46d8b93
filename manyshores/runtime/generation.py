"""Free-text generation on the base model, with an optional per-token callback for streaming."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from manyshores.runtime.greedy import greedy_stream
from manyshores.timing import note_prompt, phase

if TYPE_CHECKING:
    from manyshores.runtime.base_model import BaseModel


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
    ids = ids.to(base.device)
    note_prompt(ids[0])
    return ids


KV = list[tuple[Any, Any]]
"""Per layer, the (keys, values) tensors of a token sequence, [1, kv_heads, tokens, head_dim]."""

PREFIX_CACHE_SIZE = 8
"""Token sequences (system prompts, finished conversations) whose KV cache is kept per model."""


@dataclass
class _PrefixStore:
    """KV caches of token sequences already run, most recently used last.

    Two kinds are kept: a system prompt on its own (shared by every question to that persona)
    and each finished generation's whole sequence, prompt and answer (the next turn of that
    conversation starts with it). A new prompt reuses the longest common start with any entry.
    """

    entries: OrderedDict[tuple[int, tuple[int, ...]], KV] = field(default_factory=OrderedDict)
    """(id of the model, token ids) -> their cache."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def longest(self, model: Any, ids: list[int]) -> tuple[KV, int] | None:
        """The entry sharing the longest start with `ids`, and that length (at most all but the
        last token of `ids`, whose logits the caller needs)."""
        best: tuple[tuple[int, tuple[int, ...]], int] | None = None
        with self.lock:
            for key in self.entries:
                if key[0] != id(model):
                    continue
                n = _common(key[1], ids, len(ids) - 1)
                if n and (best is None or n > best[1]):
                    best = (key, n)
            if best is None:
                return None
            self.entries.move_to_end(best[0])
            return self.entries[best[0]], best[1]

    def put(self, model: Any, ids: tuple[int, ...], cache: KV) -> None:
        with self.lock:
            self.entries[(id(model), ids)] = cache
            self.entries.move_to_end((id(model), ids))
            while len(self.entries) > PREFIX_CACHE_SIZE:
                self.entries.popitem(last=False)


def _common(a: tuple[int, ...], b: list[int], limit: int) -> int:
    n = 0
    for x, y in zip(a, b[:limit], strict=False):
        if x != y:
            break
        n += 1
    return n


_prefixes = _PrefixStore()


def fixed_prefix_length(base: BaseModel, messages: list[dict[str, str]], ids: list[int]) -> int:
    """How many leading tokens of `ids` are the leading system messages alone (the part of the
    prompt that repeats turn after turn), or 0 when the template does not allow splitting."""
    system = []
    for m in messages:
        if m["role"] != "system":
            break
        system.append(m)
    tok: Any = base.tokenizer
    if not system or len(system) == len(messages) or not getattr(tok, "chat_template", None):
        return 0
    with phase("tokenise"):
        head = tok.apply_chat_template(system, tokenize=False)
        head_ids = list(tok(head, add_special_tokens=False)["input_ids"])
    # Only a true prefix can be reused; a template that renders the system part differently
    # once other messages follow gets no cache rather than a wrong one.
    if len(head_ids) >= len(ids) or ids[: len(head_ids)] != head_ids:
        return 0
    return len(head_ids)


def stop_ids(base: BaseModel) -> set[int]:
    """Token ids that end an answer: the tokenizer's end of sequence and the model's own."""
    stops = set()
    if base.tokenizer.eos_token_id is not None:
        stops.add(int(base.tokenizer.eos_token_id))
    config = getattr(base.model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    stops.update(int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None)
    return stops


def decode_stream(
    base: BaseModel,
    ids: list[int],
    max_new_tokens: int,
    fixed: int = 0,
    counts: list[int] | None = None,
) -> Iterator[str]:
    """Greedy decoding of one prompt, yielding text as soon as it is complete characters.

    A lean loop instead of `model.generate`: one forward per token with the KV cache, the
    vocabulary projection only for the last position, no logits processors and no streamer
    thread (the first token reaches the caller from this thread). The KV cache of the longest
    start this prompt shares with an earlier one (the same persona's system prompt, the
    conversation's previous turn) is reused; the first `fixed` tokens (`fixed_prefix_length`) are
    kept on their own too. Stops at an end token, after `max_new_tokens`, or when the turn's
    time budget is spent.
    """
    import torch
    from transformers import DynamicCache

    model: Any = base.model
    stops = stop_ids(base)
    with torch.inference_mode():
        with phase("prefill"):
            found = _prefixes.longest(model, ids)
            if fixed and (found is None or found[1] < fixed):
                key = tuple(ids[:fixed])
                done = model(
                    input_ids=torch.tensor([key], device=base.device),
                    use_cache=True,
                    logits_to_keep=1,
                ).past_key_values
                found = ([(layer.keys, layer.values) for layer in done.layers], fixed)
                _prefixes.put(model, key, found[0])
            cache, start = None, 0
            if found is not None:
                # A new cache over views of the stored tensors: decoding appends by
                # concatenation, so a stored entry is never written to.
                kv, start = found
                cache = DynamicCache([(k[:, :, :start], v[:, :, :start]) for k, v in kv])
            out = model(
                input_ids=torch.tensor([ids[start:]], device=base.device),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        fed = list(ids)  # the tokens whose keys and values the cache holds

        def feed(token: int) -> None:
            nonlocal out
            out = model(
                input_ids=torch.tensor([[token]], device=base.device),
                past_key_values=out.past_key_values,
                use_cache=True,
                logits_to_keep=1,
            )
            fed.append(token)

        def keep() -> None:
            # The next turn of this conversation starts with this prompt and answer.
            layers = out.past_key_values.layers
            _prefixes.put(model, tuple(fed), [(x.keys, x.values) for x in layers])

        yield from greedy_stream(
            lambda: int(out.logits[0, -1].argmax()),
            stops.__contains__,
            lambda tokens: str(base.tokenizer.decode(tokens, skip_special_tokens=True)),
            feed,
            max_new_tokens,
            finish=keep,
            counts=counts,
        )


def stream_text(
    base: BaseModel,
    messages: list[dict[str, str]],
    max_new_tokens: int = 96,
    counts: list[int] | None = None,
) -> Iterator[str]:
    """Yield the answer piece by piece as it is generated (greedy, so it is reproducible).

    `counts`, when given, receives the number of generated tokens once generation is done."""
    ids = [int(t) for t in chat_input_ids(base, messages, reserve=max_new_tokens)[0].tolist()]
    fixed = fixed_prefix_length(base, messages, ids)
    yield from decode_stream(base, ids, max_new_tokens, fixed, counts)


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

    from manyshores.runtime.batching import left_pad, pad_id

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
