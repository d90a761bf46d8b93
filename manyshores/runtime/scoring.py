"""Option scoring: a probability distribution over a question's options from log-probabilities.

The prompt lists the options under letters (A, B, C, ...) and the answer slot is the next token
after the assistant turn starts. Every option is then one single token, so one forward pass scores
all options at once and no length normalisation is needed (multi-token option texts would favour
short options under summed log-probs and long ones under mean log-probs; letters sidestep this).

The shared part of the input (instructions, retrieved context, question, options) is the *prefix*.
Soft-prompt experts put their virtual tokens after the prefix, just before the answer slot, so the
prefix's KV cache is computed once and reused by every expert of a committee (`PrefixCache`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from manyshores.timing import phase

if TYPE_CHECKING:
    import torch

    from manyshores.runtime.base_model import BaseModel

LETTERS = string.ascii_uppercase
SURVEY_INSTRUCTION = "Answer the survey question with the letter of one option."


def survey_messages(
    question: str,
    options: list[str],
    context: str | None = None,
    persona: str | None = None,
) -> list[dict[str, str]]:
    """Chat messages asking one multiple-choice question; `persona` is the line naming the
    culture (`PersonaExpert.instruction()`)."""
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options can be scored, got {len(options)}")
    parts = []
    if context:
        parts.append(f"Context:\n{context.strip()}\n")
    parts.append(question.strip())
    parts.extend(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options))
    if persona:
        # After the question, so that prompts naming different cultures share the whole
        # question's KV cache and differ only in their last few tokens.
        parts.append(persona)
    parts.append("Answer with one letter.")
    return [
        {"role": "system", "content": SURVEY_INSTRUCTION},
        {"role": "user", "content": "\n".join(parts)},
    ]


def prompt_ids(base: BaseModel, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of a chat up to the start of the assistant's answer."""
    tok = base.tokenizer
    with phase("tokenise"):
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        return list(tok(text, add_special_tokens=False)["input_ids"])


def hidden_size(base: BaseModel) -> int:
    """Width of the model's token embeddings."""
    return int(base.model.config.hidden_size)


def label_token_ids(base: BaseModel, n_options: int) -> list[int]:
    """The single token id of each option letter."""
    ids = []
    for letter in LETTERS[:n_options]:
        enc = base.tokenizer.encode(letter, add_special_tokens=False)
        if len(enc) != 1:
            raise ValueError(f"option letter {letter!r} is not one token for this tokenizer")
        ids.append(enc[0])
    return ids


@dataclass
class PrefixCache:
    """The shared prefix run once: its KV cache and the logits at its last position."""

    keys: list[torch.Tensor]
    """Per layer, [1, kv_heads, prefix_len, head_dim]."""
    values: list[torch.Tensor]
    """Per layer, like `keys`."""
    last_hidden: torch.Tensor
    """Final-norm hidden state at the last prefix position, [hidden]."""
    length: int
    """Prefix length in tokens."""

    def cache(self, batch: int):  # -> DynamicCache
        """A fresh cache for `batch` rows (expanded views: the stored tensors are never mutated)."""
        from transformers import DynamicCache

        data = [
            (k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1))
            for k, v in zip(self.keys, self.values, strict=True)
        ]
        return DynamicCache(data)


def crop_prefix(prefix: PrefixCache, length: int) -> PrefixCache:
    """The first `length` tokens of a prefix (its `last_hidden` is then not meaningful)."""
    return PrefixCache(
        [k[:, :, :length] for k in prefix.keys],
        [v[:, :, :length] for v in prefix.values],
        prefix.last_hidden,
        length,
    )


def common_length(a: list[int], b: list[int]) -> int:
    """Length of the common start of two token id lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def run_prefix(base: BaseModel, ids: list[int]) -> PrefixCache:
    """Run the shared prefix once (no gradient) and keep its KV cache."""
    import torch

    with torch.no_grad(), phase("prefill"):
        out = base.model.model(input_ids=torch.tensor([ids], device=base.device), use_cache=True)
    cache = out.past_key_values
    keys = [layer.keys for layer in cache.layers]
    values = [layer.values for layer in cache.layers]
    return PrefixCache(keys, values, out.last_hidden_state[0, -1], len(ids))


def label_logprobs(base: BaseModel, hidden: torch.Tensor, label_ids: list[int]) -> torch.Tensor:
    """Log-softmax over the option letters only, from final hidden states [..., hidden].

    Only the letter rows of the output embedding are used: the full vocabulary projection is the
    single most expensive matrix of a small model and the other 49k logits are never needed.
    """
    import torch

    weight = base.model.get_output_embeddings().weight[label_ids]
    logits = hidden @ weight.T
    return torch.log_softmax(logits, dim=-1)


def run_virtual(base: BaseModel, prefix: PrefixCache, prompts: list[torch.Tensor]) -> torch.Tensor:
    """Final hidden state after each row's virtual tokens, all rows in one batched pass.

    `prompts[i]` is a [n_i, hidden] soft prompt (n_i may differ; n_i = 0 means the bare base).
    Rows are right-padded with zeros: causal attention means padding after a row's last real
    token cannot change that token's state, so no mask is needed.
    """
    import torch

    lengths = [int(p.shape[0]) for p in prompts]
    width = max(lengths)
    rows = [i for i, n in enumerate(lengths) if n > 0]
    out = prefix.last_hidden.unsqueeze(0).repeat(len(prompts), 1)
    if not rows:
        return out
    hidden = prefix.last_hidden.shape[-1]
    embeds = torch.zeros(len(rows), width, hidden, dtype=prompts[rows[0]].dtype, device=base.device)
    for j, i in enumerate(rows):
        embeds[j, : lengths[i]] = prompts[i]
    positions = torch.arange(prefix.length, prefix.length + width, device=base.device)
    with phase("prefill"):
        res = base.model.model(
            inputs_embeds=embeds,
            past_key_values=prefix.cache(len(rows)),
            position_ids=positions.unsqueeze(0).expand(len(rows), -1),
            use_cache=False,
        )
    last = torch.tensor([lengths[i] - 1 for i in rows], device=base.device)
    picked = res.last_hidden_state[torch.arange(len(rows)), last]
    out = out.clone()
    out[rows] = picked
    return out
