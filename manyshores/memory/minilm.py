"""all-MiniLM-L6-v2 sentence embeddings in plain torch: the BERT encoder, mean pooling, L2 norm.

The same computation as sentence-transformers' pipeline for this model (Transformer, Pooling
with the token mean, Normalize; `tests/test_embeddings.py` compares the vectors), without
importing sentence-transformers and transformers: those imports took ~6 s of a cold start on
the shared 2-core machine (`docs/speed.md`), more than the rest of a first turn's embedding
work. The tokenizer is the model's own `tokenizer.json` through the `tokenizers` library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAX_SEQ_LENGTH = 256
"""sentence-transformers' `max_seq_length` for this model (`sentence_bert_config.json`)."""


@dataclass(frozen=True)
class MiniLMSpec:
    """What an encoder needs from a sentence-transformers model directory, read without torch."""

    root: Path
    """The model directory."""
    tokenizer: Any
    """The model's `tokenizers.Tokenizer`, truncating at `max_len`, no padding."""
    dim: int
    """Hidden size (the vector length)."""
    heads: int
    """Attention heads per layer."""
    layers: int
    """Encoder layers."""
    eps: float
    """Layer-norm epsilon."""


def read_spec(path: str | Path) -> MiniLMSpec:
    """Read and check a mean-pooled, normalised BERT sentence model's directory (ValueError when
    it is another kind of model: its vectors would not be what this module computes)."""
    from tokenizers import Tokenizer

    root = Path(path)
    config = json.loads((root / "config.json").read_text())
    modules = json.loads((root / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = json.loads((root / "1_Pooling" / "config.json").read_text())
    if kinds != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
        "pooling_mode_mean_tokens"
    ):
        raise ValueError(f"{root} is not a mean-pooled, normalised BERT sentence model")
    max_len = MAX_SEQ_LENGTH
    st_config = root / "sentence_bert_config.json"
    if st_config.is_file():
        max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))
    tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    tokenizer.enable_truncation(max_len)
    tokenizer.no_padding()
    return MiniLMSpec(
        root=root,
        tokenizer=tokenizer,
        dim=int(config["hidden_size"]),
        heads=int(config["num_attention_heads"]),
        layers=int(config["num_hidden_layers"]),
        eps=float(config["layer_norm_eps"]),
    )


def encode_batches(
    spec: MiniLMSpec,
    texts: list[str],
    batch_size: int,
    forward: Callable[[list[list[int]]], np.ndarray],
    normalize: bool,
) -> np.ndarray:
    """One vector per text (rows in the order of `texts`): `forward` maps a batch of token id
    lists to their pooled vectors; L2-normalised when `normalize`."""
    out = np.zeros((len(texts), spec.dim), np.float32)
    encodings = spec.tokenizer.encode_batch(list(texts))
    # Similar lengths together, as sentence-transformers batches: little padding.
    order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        vectors = np.asarray(forward([encodings[i].ids for i in rows]), np.float32)
        if normalize:
            # torch.nn.functional.normalize's rule: divide by the norm, at least 1e-12.
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        out[rows] = vectors
    return out


def padded(ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """A batch of token id lists as (tokens int64, mask float32), right-padded with zeros."""
    width = max(len(x) for x in ids)
    tokens = np.zeros((len(ids), width), np.int64)
    mask = np.zeros((len(ids), width), np.float32)
    for i, row in enumerate(ids):
        tokens[i, : len(row)] = row
        mask[i, : len(row)] = 1.0
    return tokens, mask


class MiniLMEncoder:
    """A BERT encoder read from a sentence-transformers model directory, `encode` as
    sentence-transformers' (the arguments this package uses)."""

    runtime = "torch"
    """Which runtime computes the vectors (the ONNX encoder says `onnxruntime`)."""

    def __init__(self, path: str | Path, batch_size: int = 32) -> None:
        import torch
        from safetensors.torch import load_file

        self.spec = read_spec(path)
        self.tokenizer = self.spec.tokenizer
        self.dim = self.spec.dim
        self.heads = self.spec.heads
        self.layers = self.spec.layers
        self.eps = self.spec.eps
        self.weights: dict[str, Any] = load_file(str(self.spec.root / "model.safetensors"))
        self.batch_size = batch_size
        self._torch = torch

    def encode(
        self,
        texts: list[str],
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """One vector per text (rows in the order of `texts`)."""
        del convert_to_numpy, show_progress_bar  # numpy is the only output here
        with self._torch.inference_mode():
            return encode_batches(
                self.spec,
                texts,
                batch_size or self.batch_size,
                lambda ids: self._forward(ids).numpy(),
                normalize_embeddings,
            )

    def _forward(self, ids: list[list[int]]) -> Any:
        tokens, mask = padded(ids)
        return self.pooled(self._torch.from_numpy(tokens), self._torch.from_numpy(mask))

    def pooled(self, tokens: Any, mask: Any) -> Any:
        """Mean-pooled (not normalised) vectors of a padded batch: `tokens` int64 and `mask`
        float32 (1 for real tokens), both (batch, width). Shapes are read from the tensors, so
        the computation traces into an ONNX graph with a free batch size and width
        (`memory/minilm_onnx.py`)."""
        torch, w = self._torch, self.weights
        F = torch.nn.functional
        batch, width = tokens.shape[0], tokens.shape[1]
        hidden = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][:width].unsqueeze(0)
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        dim = self.dim  # a constant, not a traced shape: layer_norm takes a fixed size
        hidden = F.layer_norm(
            hidden,
            (dim,),
            w["embeddings.LayerNorm.weight"],
            w["embeddings.LayerNorm.bias"],
            self.eps,
        )
        # Padding keys get the most negative float, as transformers' BERT masks them.
        bias = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
        head = self.dim // self.heads
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def lin(x: Any, name: str, p: str = p) -> Any:
                return F.linear(x, w[p + name + ".weight"], w[p + name + ".bias"])

            def split(x: Any) -> Any:
                return x.reshape(batch, width, self.heads, head).transpose(1, 2)

            q = split(lin(hidden, "attention.self.query"))
            k = split(lin(hidden, "attention.self.key"))
            v = split(lin(hidden, "attention.self.value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(head) + bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, width, self.dim)
            hidden = F.layer_norm(
                lin(context, "attention.output.dense") + hidden,
                (dim,),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = F.gelu(lin(hidden, "intermediate.dense"))
            hidden = F.layer_norm(
                lin(inner, "output.dense") + hidden,
                (dim,),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        # Mean over the real tokens (sentence-transformers' Pooling, mean mode).
        summed = (hidden * mask.unsqueeze(-1)).sum(1)
        return summed / mask.sum(1, keepdim=True).clamp(min=1e-9)
