"""Greedy decoding of several rows that share one prefix KV cache (soft-prompt committees)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from manyshores.runtime.base_model import BaseModel
    from manyshores.runtime.scoring import PrefixCache


def decode_rows(
    base: BaseModel,
    prefix: PrefixCache,
    rows: list[torch.Tensor],
    max_new_tokens: int,
    ignore_eos: bool = False,
    counts: list[int] | None = None,
) -> list[str]:
    """Greedy answers, one per row of appended embeddings, decoded in batches of equal length.

    Rows of unequal length are decoded in separate groups: padding inside a row would be
    attended to by every later token and change the answer. `counts`, when given, receives each
    row's number of generated tokens (its end-of-sequence token included, as `generate` counts).
    """
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(int(r.shape[0]), []).append(i)
    out = [""] * len(rows)
    generated = [0] * len(rows)
    for length, idx in groups.items():
        for i, (text, n) in zip(
            idx,
            _decode_group(base, prefix, [rows[i] for i in idx], length, max_new_tokens, ignore_eos),
            strict=True,
        ):
            out[i], generated[i] = text, n
    if counts is not None:
        counts.extend(generated)
    return out


def _decode_group(
    base: BaseModel,
    prefix: PrefixCache,
    rows: list[torch.Tensor],
    length: int,
    max_new_tokens: int,
    ignore_eos: bool,
) -> list[tuple[str, int]]:
    """(text, generated tokens) per row."""
    import torch

    k, dev = len(rows), base.device
    head = base.model.get_output_embeddings()
    eos = base.tokenizer.eos_token_id
    with torch.no_grad():
        cache = prefix.cache(k)
        if length:
            pos = torch.arange(prefix.length, prefix.length + length, device=dev).expand(k, -1)
            res = base.model.model(
                inputs_embeds=torch.stack(rows),
                past_key_values=cache,
                position_ids=pos,
                use_cache=True,
            )
            cache, last = res.past_key_values, res.last_hidden_state[:, -1]
        else:
            last = prefix.last_hidden.unsqueeze(0).expand(k, -1)
        tokens: list[list[int]] = [[] for _ in range(k)]
        done = [False] * k
        step_pos = prefix.length + length
        for _ in range(max_new_tokens):
            nxt = head(last).argmax(-1)
            for i, t in enumerate(nxt.tolist()):
                if not done[i]:
                    if t == eos and not ignore_eos:  # benchmarks decode a fixed length
                        done[i] = True
                    else:
                        tokens[i].append(t)
            if all(done):
                break
            res = base.model.model(
                input_ids=nxt.unsqueeze(1),
                past_key_values=cache,
                position_ids=torch.full((k, 1), step_pos, device=dev),
                use_cache=True,
            )
            cache, last = res.past_key_values, res.last_hidden_state[:, -1]
            step_pos += 1
    return [
        (str(base.tokenizer.decode(t, skip_special_tokens=True)).strip(), len(t) + done[i])
        for i, t in enumerate(tokens)
    ]
