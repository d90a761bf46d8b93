"""The embedder on onnxruntime: the torch encoder's vectors, a cached export, a torch fallback."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

TEXTS = [
    "What do families in Kenya usually eat for breakfast?",
    "hi",
    "¿Qué comen los niños en México? 你好 こんにちは",
    "word " * 400,  # past the 256-token truncation
    "",
]


def tiny_bert(root: Path, seed: int = 0) -> Path:
    """A randomly initialised 2-layer BERT sentence model (mean pooling, normalised) with the
    shipped model's tokenizer, as a sentence-transformers directory."""
    import torch
    from safetensors.torch import save_file

    from manyshores.memory.embeddings import embedder_path

    hidden, heads, layers, inner, positions = 32, 4, 2, 64, 512
    shipped = Path(embedder_path())
    root.mkdir(parents=True)
    shutil.copy(shipped / "tokenizer.json", root / "tokenizer.json")
    vocab = len(json.loads((shipped / "tokenizer.json").read_text())["model"]["vocab"])
    (root / "config.json").write_text(
        json.dumps(
            {
                "hidden_size": hidden,
                "num_attention_heads": heads,
                "num_hidden_layers": layers,
                "intermediate_size": inner,
                "layer_norm_eps": 1e-12,
                "vocab_size": vocab,
            }
        )
    )
    (root / "modules.json").write_text(
        json.dumps(
            [
                {"type": "sentence_transformers.models.Transformer"},
                {"type": "sentence_transformers.models.Pooling"},
                {"type": "sentence_transformers.models.Normalize"},
            ]
        )
    )
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (root / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * 0.2

    w = {
        "embeddings.word_embeddings.weight": rand(vocab, hidden),
        "embeddings.position_embeddings.weight": rand(positions, hidden),
        "embeddings.token_type_embeddings.weight": rand(2, hidden),
        "embeddings.LayerNorm.weight": 1 + rand(hidden),
        "embeddings.LayerNorm.bias": rand(hidden),
    }
    for n in range(layers):
        p = f"encoder.layer.{n}."
        for name, (out, inp) in {
            "attention.self.query": (hidden, hidden),
            "attention.self.key": (hidden, hidden),
            "attention.self.value": (hidden, hidden),
            "attention.output.dense": (hidden, hidden),
            "intermediate.dense": (inner, hidden),
            "output.dense": (hidden, inner),
        }.items():
            w[p + name + ".weight"] = rand(out, inp)
            w[p + name + ".bias"] = rand(out)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + norm + ".weight"] = 1 + rand(hidden)
            w[p + norm + ".bias"] = rand(hidden)
    save_file({k: v.contiguous() for k, v in w.items()}, str(root / "model.safetensors"))
    return root


def test_onnx_vectors_equal_the_torch_encoder_on_a_random_bert(tmp_path):
    from manyshores.memory.minilm import MiniLMEncoder
    from manyshores.memory.minilm_onnx import OnnxMiniLMEncoder, ensure_graph

    model = tiny_bert(tmp_path / "bert")
    graph = ensure_graph(model, tmp_path / "cache")
    # Batches of 2 pad rows of different lengths together: the mask must hold in the graph.
    onnx = OnnxMiniLMEncoder(model, graph).encode(TEXTS, batch_size=2)
    torch_vectors = MiniLMEncoder(model, batch_size=2).encode(TEXTS)
    assert onnx.shape == torch_vectors.shape == (len(TEXTS), 32)
    assert np.abs(onnx - torch_vectors).max() < 1e-5
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    # Different texts give different vectors (the graph did not freeze the traced example).
    assert np.abs(onnx[0] - onnx[1]).max() > 1e-3
    unnormalised = OnnxMiniLMEncoder(model, graph).encode(TEXTS[:1], normalize_embeddings=False)
    assert abs(float(np.linalg.norm(unnormalised)) - 1.0) > 1e-3


def test_the_export_is_cached_by_the_model_files_and_written_whole(tmp_path):
    import os

    from manyshores.memory.minilm_onnx import cached_graph_path, ensure_graph

    model = tiny_bert(tmp_path / "bert")
    cache = tmp_path / "cache"
    first = ensure_graph(model, cache)
    stamp = first.stat().st_mtime_ns
    assert ensure_graph(model, cache) == first
    assert first.stat().st_mtime_ns == stamp  # read back, not exported again
    assert [p.name for p in cache.iterdir()] == [first.name]  # no temporary file left behind
    # New weights are a new key: the stale graph is never used for them.
    weights = model / "model.safetensors"
    os.utime(weights, ns=(stamp + 10**9, stamp + 10**9))
    assert cached_graph_path(model, cache) != first


def test_load_embedder_falls_back_to_torch_when_onnxruntime_is_missing(monkeypatch, caplog):
    from manyshores.memory import embeddings
    from manyshores.memory.minilm import MiniLMEncoder

    monkeypatch.setattr(embeddings, "_cached", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    with caplog.at_level(logging.WARNING, logger="manyshores.memory.embeddings"):
        encoder = embeddings.load_embedder()
    assert isinstance(encoder, MiniLMEncoder)
    assert "using torch" in caplog.text and "onnxruntime" in caplog.text
    monkeypatch.setattr(embeddings, "_cached", None)  # the next test loads the default again


def test_the_default_embedder_runs_on_onnxruntime(monkeypatch):
    from manyshores.memory import embeddings

    monkeypatch.setattr(embeddings, "_cached", None)
    encoder = embeddings.load_embedder()
    assert getattr(encoder, "runtime", None) == "onnxruntime"
    monkeypatch.setattr(embeddings, "_cached", None)


@pytest.mark.slow
def test_the_shipped_model_on_onnx_equals_torch(tmp_path):
    from manyshores.memory.embeddings import embedder_path
    from manyshores.memory.minilm import MiniLMEncoder
    from manyshores.memory.minilm_onnx import OnnxMiniLMEncoder, ensure_graph

    graph = ensure_graph(embedder_path(), tmp_path)
    onnx = OnnxMiniLMEncoder(embedder_path(), graph).encode(TEXTS, batch_size=2)
    torch_vectors = MiniLMEncoder(embedder_path(), batch_size=2).encode(TEXTS)
    assert np.abs(onnx - torch_vectors).max() < 1e-5
