"""The expert store: one directory per expert with `manifest.json` and safetensors weights only.

```
<root>/<expert id>/manifest.json      id, culture, tasks, kind, base fingerprint, data hash,
                                      hyperparameters, metrics, created_at, tensor shapes
<root>/<expert id>/weights.safetensors
```

Loading is defensive: ids must be plain names (no path can escape the root), only safetensors
are read (pickle files are refused, never unpickled), tensor names and shapes must match the
manifest, and the base-model fingerprint must match the loaded base model.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import ExpertStoreError

if TYPE_CHECKING:
    import torch

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
FORMAT_VERSION = 1
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


@dataclass
class ExpertManifest:
    """What `manifest.json` holds."""

    id: str
    """Unique expert id; also its directory name."""
    culture: str
    """Culture id the expert speaks for (`*` for a joint expert over all cultures)."""
    kind: str
    """Registered kind: `softprompt`, `lora`, `persona`."""
    base_fingerprint: str
    """Fingerprint of the base model it was trained on; loading elsewhere is refused."""
    tasks: list[str] = field(default_factory=lambda: ["multiple_choice"])
    """Tasks it was trained for."""
    data_hash: str = ""
    """Hash of the training data."""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    """The kind's config as trained."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Validation / dev metrics measured after training."""
    tensors: dict[str, list[int]] = field(default_factory=dict)
    """Name to shape of every tensor in the weights file."""
    created_at: str = ""
    """ISO 8601 UTC time of creation."""
    format_version: int = FORMAT_VERSION
    """Store layout version."""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExpertManifest:
        known = {f for f in cls.__dataclass_fields__}
        missing = {"id", "culture", "kind", "base_fingerprint"} - raw.keys()
        if missing:
            raise ExpertStoreError(f"manifest lacks {sorted(missing)}")
        return cls(**{k: v for k, v in raw.items() if k in known})


def check_id(expert_id: str) -> str:
    """Return the id if it is a safe directory name, else raise."""
    if not isinstance(expert_id, str) or not _ID_RE.match(expert_id) or ".." in expert_id:
        raise ExpertStoreError(
            f"invalid expert id {expert_id!r}: use letters, digits, '-', '_', '.' (no paths)"
        )
    return expert_id


def expert_dir(root: Path, expert_id: str) -> Path:
    """The directory of an expert, guaranteed to lie inside `root`."""
    path = (root / check_id(expert_id)).resolve()
    if path.parent != root.resolve():
        raise ExpertStoreError(f"expert id {expert_id!r} escapes the store {root}")
    return path


def save_expert(root: Path, manifest: ExpertManifest, tensors: dict[str, torch.Tensor]) -> Path:
    """Write an expert atomically (temporary sibling then rename); replaces an older version."""
    from safetensors.torch import save_file

    target = expert_dir(root, manifest.id)
    root.mkdir(parents=True, exist_ok=True)
    manifest.tensors = {k: list(v.shape) for k, v in tensors.items()}
    manifest.created_at = manifest.created_at or datetime.now(timezone.utc).isoformat(
        timespec="seconds"
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".{manifest.id}.", dir=root))
    try:
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / WEIGHTS)
        )
        (tmp / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def read_manifest(path: Path) -> ExpertManifest:
    """Read and check an expert directory's manifest (not its weights)."""
    file = path / MANIFEST
    if not file.is_file():
        raise ExpertStoreError(f"{path} has no {MANIFEST}")
    try:
        raw = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ExpertStoreError(f"corrupt manifest {file}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ExpertStoreError(f"corrupt manifest {file}: not an object")
    manifest = ExpertManifest.from_dict(raw)
    check_id(manifest.id)
    if manifest.id != path.name:
        raise ExpertStoreError(
            f"manifest id {manifest.id!r} does not match directory {path.name!r}"
        )
    return manifest


def load_tensors(
    path: Path, manifest: ExpertManifest, fingerprint: str | None
) -> dict[str, torch.Tensor]:
    """Load an expert's weights after checking fingerprint, file format and shapes."""
    from safetensors.torch import load_file

    if fingerprint is not None and manifest.base_fingerprint != fingerprint:
        raise ExpertStoreError(
            f"expert {manifest.id!r} was trained on base model {manifest.base_fingerprint}, "
            f"but the loaded base model is {fingerprint}: retrain it on this base "
            f"(`manyshores experts train`) or load the base model it was made for"
        )
    pickles = [p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES]
    if pickles:
        raise ExpertStoreError(f"expert {manifest.id!r} holds pickle files {pickles}; refused")
    file = path / WEIGHTS
    if not file.is_file():
        raise ExpertStoreError(f"expert {manifest.id!r} has no {WEIGHTS}")
    try:
        tensors = load_file(str(file))
    except Exception as exc:  # safetensors raises its own error types on corrupt files
        raise ExpertStoreError(f"corrupt weights for expert {manifest.id!r}: {exc}") from exc
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    if shapes != manifest.tensors:
        raise ExpertStoreError(
            f"expert {manifest.id!r}: weights {shapes} do not match manifest {manifest.tensors}"
        )
    return tensors
