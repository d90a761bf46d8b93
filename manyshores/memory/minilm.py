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
from pathlib import Path
from typing import Any

import numpy as np

MAX_SEQ_LENGTH = 256
"""sentence-transformers' `max_seq_length` for this model (`sentence_bert_config.json`)."""


class MiniLMEncoder:
    """A BERT encoder read from a sentence-transformers model directory, `encode` as
    sentence-transformers' (the arguments this package uses)."""

    def __init__(self, path: str | Path, batch_size: int = 32) -> None:
        import torch
        from safetensors.torch import load_file
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
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_len)
        self.tokenizer.no_padding()
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.weights: dict[str, Any] = load_file(str(root / "model.safetensors"))
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
        size = batch_size or self.batch_size
        out = np.zeros((len(texts), self.dim), np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        # Similar lengths together, as sentence-transformers batches: little padding.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        with self._torch.inference_mode():
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                vectors = self._forward([encodings[i].ids for i in rows])
                if normalize_embeddings:
                    vectors = self._torch.nn.functional.normalize(vectors, p=2, dim=1)
                out[rows] = vectors.numpy()
        return out

    def _forward(self, ids: list[list[int]]) -> Any:
        torch, w = self._torch, self.weights
        F = torch.nn.functional
        width = max(len(x) for x in ids)
        tokens = torch.zeros((len(ids), width), dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.float32)
        for i, row in enumerate(ids):
            tokens[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1.0
        hidden = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][:width].unsqueeze(0)
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        dim = hidden.shape[-1]
        hidden = F.layer_norm(
            hidden,
            (dim,),
            w["embeddings.LayerNorm.weight"],
            w["embeddings.LayerNorm.bias"],
            self.eps,
        )
        # Padding keys get the most negative float, as transformers' BERT masks them.
        bias = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
        head = dim // self.heads
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def lin(x: Any, name: str, p: str = p) -> Any:
                return F.linear(x, w[p + name + ".weight"], w[p + name + ".bias"])

            def split(x: Any) -> Any:
                return x.view(x.shape[0], width, self.heads, head).transpose(1, 2)

            q = split(lin(hidden, "attention.self.query"))
            k = split(lin(hidden, "attention.self.key"))
            v = split(lin(hidden, "attention.self.value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(head) + bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(hidden.shape)
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
