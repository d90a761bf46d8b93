"""The MiniLM encoder on onnxruntime: the same vectors as `memory/minilm.py`, without torch.

Importing torch took 1.8–3.4 s of every cold start on the shared 2-core machine, and on the
llama.cpp text runtime the embedder was the only user of torch before a generated answer's
first token (`docs/speed.md`). The torch encoder's computation (`MiniLMEncoder.pooled`) is traced
once into an ONNX graph, cached under the home directory and keyed by the model's files, and run
by onnxruntime (a dependency of Chroma already) on the process's thread count. Vectors equal the
torch encoder's within 1e-5 (`tests/test_embeddings_onnx.py`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.memory.minilm import MiniLMSpec, encode_batches, padded, read_spec

EXPORT_VERSION = 1
"""Part of the cache key: bump when the exported computation changes."""
OPSET = 17
"""ONNX opset of the export (`LayerNormalization` is a single op from 17)."""


def model_key(root: str | Path) -> str:
    """A key for a model directory's exported graph: its config and weights file (size and
    modification time, not the 90 MB of bytes: hashing them would cost more than the load)."""
    root = Path(root)
    digest = hashlib.sha256(f"v{EXPORT_VERSION}:{root.resolve()}".encode())
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        stat = (root / name).stat()
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cached_graph_path(root: str | Path, cache_dir: Path) -> Path:
    """Where the exported graph of the model at `root` lives in `cache_dir`."""
    return cache_dir / f"minilm-{model_key(root)}.onnx"


def export_graph(root: str | Path, out: Path) -> Path:
    """Trace the torch encoder of the model at `root` into an ONNX file at `out` (written to a
    temporary name first and renamed: a process reading the cache never sees half a file)."""
    import torch

    from manyshores.memory.minilm import MiniLMEncoder

    encoder = MiniLMEncoder(root)

    class Pooled(torch.nn.Module):
        def forward(self, tokens: Any, mask: Any) -> Any:
            return encoder.pooled(tokens, mask)

    tokens, mask = padded([[101, 2023, 102], [101, 102]])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    try:
        with torch.inference_mode():
            torch.onnx.export(
                Pooled(),
                (torch.from_numpy(tokens), torch.from_numpy(mask)),
                str(tmp),
                input_names=["tokens", "mask"],
                output_names=["pooled"],
                dynamic_axes={
                    "tokens": {0: "batch", 1: "width"},
                    "mask": {0: "batch", 1: "width"},
                    "pooled": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,  # the TorchScript tracer: no onnx/onnxscript packages needed
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def ensure_graph(root: str | Path, cache_dir: Path) -> Path:
    """The cached ONNX graph of the model at `root`, exported first when missing."""
    path = cached_graph_path(root, cache_dir)
    if not path.is_file():
        export_graph(root, path)
    return path


class OnnxMiniLMEncoder:
    """`encode` as `MiniLMEncoder`'s, computed by onnxruntime from an exported graph."""

    runtime = "onnxruntime"
    """Which runtime computes the vectors."""

    def __init__(
        self, path: str | Path, graph: Path, threads: int = 1, batch_size: int = 32
    ) -> None:
        import onnxruntime as ort

        self.spec: MiniLMSpec = read_spec(path)
        self.dim = self.spec.dim
        self.batch_size = batch_size
        options = ort.SessionOptions()
        # One pool of the process's size (`threads.thread_count`); no second pool between
        # operators: on a busy 2-core machine extra threads only wait for each other.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # warnings about unused initialisers are noise here
        self.session = ort.InferenceSession(
            str(graph), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _forward(self, ids: list[list[int]]) -> np.ndarray:
        tokens, mask = padded(ids)
        (pooled,) = self.session.run(["pooled"], {"tokens": tokens, "mask": mask})
        return np.asarray(pooled)

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
        return encode_batches(
            self.spec, texts, batch_size or self.batch_size, self._forward, normalize_embeddings
        )
