"""The expert store's LoRA experts as the adapter directories vLLM loads.

vLLM reads a PEFT adapter directory: `adapter_config.json` + `adapter_model.safetensors`. A
store LoRA expert keeps PEFT's own state-dict names (`base_model.model.<module>.lora_A.weight`)
in `weights.safetensors`, so exporting is writing PEFT's config next to a copy of the tensors.

The bare base model is served as an all-zero adapter (`BASE_ADAPTER`): in vLLM 0.32 on CPU a
request for the base model that shares a batch with adapter requests silently gets one of their
adapters applied; a zero adapter is exactly the base model and batches like any other.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manyshores.errors import ExpertStoreError

BASE_ADAPTER = "base"
"""Model name of the zero adapter that stands for the bare base model."""
ZERO_TARGETS = ("q_proj", "v_proj")
"""Modules of the zero adapter (any would do: its update is zero)."""
VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""`--max-lora-rank` values vLLM accepts."""


@dataclass(frozen=True)
class ExportedAdapter:
    """One adapter directory ready for vLLM."""

    name: str
    """Model name in requests (the expert id, or `base`)."""
    path: Path
    """Its directory."""
    rank: int
    """LoRA rank (the server's `--max-lora-rank` must be at least this)."""


def _write_config(out: Path, base_dir: Path, rank: int, alpha: int, targets: list[str]) -> None:
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(base_dir),
        "r": rank,
        "lora_alpha": alpha,
        "target_modules": sorted(targets),
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "modules_to_save": None,
        "use_rslora": False,
        "use_dora": False,
    }
    (out / "adapter_config.json").write_text(json.dumps(config, indent=1))


def export_lora(expert_dir: Path, out_root: Path, base_dir: Path) -> ExportedAdapter:
    """A store LoRA expert (`manifest.json` + `weights.safetensors`) as a vLLM adapter dir."""
    from manyshores.experts.lora.model import config_from
    from manyshores.experts.store import MANIFEST, WEIGHTS

    manifest = json.loads((expert_dir / MANIFEST).read_text())
    if manifest.get("kind") != "lora":
        raise ExpertStoreError(f"{expert_dir} is not a LoRA expert")
    cfg = config_from(manifest.get("hyperparameters", {}))
    out = out_root / manifest["id"]
    out.mkdir(parents=True, exist_ok=True)
    _write_config(out, base_dir, cfg.r, cfg.alpha, list(cfg.target_modules))
    shutil.copyfile(expert_dir / WEIGHTS, out / "adapter_model.safetensors")
    return ExportedAdapter(manifest["id"], out, cfg.r)


def zero_adapter(out_root: Path, base_dir: Path, rank: int = 8) -> ExportedAdapter:
    """The all-zero adapter on `ZERO_TARGETS`, its shapes read from the base's weights."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    for file in sorted(base_dir.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                module, _, leaf = key.rpartition(".")
                if leaf != "weight" or module.rsplit(".", 1)[-1] not in ZERO_TARGETS:
                    continue
                out_f, in_f = f.get_slice(key).get_shape()
                prefix = f"base_model.model.{module}"
                tensors[f"{prefix}.lora_A.weight"] = torch.zeros(rank, in_f)
                tensors[f"{prefix}.lora_B.weight"] = torch.zeros(out_f, rank)
    if not tensors:
        raise ExpertStoreError(f"no {'/'.join(ZERO_TARGETS)} weights in {base_dir}")
    out = out_root / BASE_ADAPTER
    out.mkdir(parents=True, exist_ok=True)
    _write_config(out, base_dir, rank, rank, list(ZERO_TARGETS))
    save_file(tensors, str(out / "adapter_model.safetensors"))
    return ExportedAdapter(BASE_ADAPTER, out, rank)


def store_lora_dirs(roots: list[Path]) -> list[Path]:
    """Every LoRA expert directory under the store roots (a later root wins on an id clash, as
    in the registry: the user store overrides the shipped experts)."""
    from manyshores.experts.store import MANIFEST

    seen: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for manifest in sorted(root.glob(f"*/{MANIFEST}")):
            try:
                raw = json.loads(manifest.read_text())
            except (OSError, ValueError):
                continue  # the registry reports broken experts; the engine just skips them
            if raw.get("kind") == "lora" and raw.get("id"):
                seen[raw["id"]] = manifest.parent
    return list(seen.values())


def max_rank(adapters: list[ExportedAdapter]) -> int:
    """The smallest `--max-lora-rank` vLLM accepts that fits every adapter."""
    need = max((a.rank for a in adapters), default=8)
    for r in VLLM_RANKS:
        if r >= need:
            return r
    raise ExpertStoreError(f"LoRA rank {need} is above vLLM's largest ({VLLM_RANKS[-1]})")
