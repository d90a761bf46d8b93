"""Expert store: round trip, fingerprint mismatch, corrupt / pickle / path-escape rejection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manyshores.errors import ExpertStoreError
from manyshores.experts.registry import ExpertRegistry
from manyshores.experts.store import (
    ExpertManifest,
    expert_dir,
    load_tensors,
    read_manifest,
    save_expert,
)


def _save(root: Path, base, expert_id: str = "usa-sp", n: int = 3):
    import torch

    manifest = ExpertManifest(
        id=expert_id,
        culture="USA",
        kind="softprompt",
        base_fingerprint=base.fingerprint,
        hyperparameters={"num_virtual_tokens": n},
    )
    return save_expert(root, manifest, {"prompt": torch.randn(n, 64)})


def test_round_trip(tmp_path, tiny_base):
    path = _save(tmp_path, tiny_base)
    manifest = read_manifest(path)
    assert manifest.tensors == {"prompt": [3, 64]} and manifest.created_at
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "weights.safetensors"]
    reg = ExpertRegistry(tiny_base, [tmp_path])
    assert [i.id for i in reg.available()] == ["usa-sp"]
    assert reg.get("usa-sp").prompt.shape == (3, 64)
    own = reg.for_culture("USA")
    assert own is not None and own.id == "usa-sp"


def test_fingerprint_mismatch(tmp_path, tiny_base):
    path = _save(tmp_path, tiny_base)
    with pytest.raises(ExpertStoreError, match="another|trained on base model"):
        load_tensors(path, read_manifest(path), "0" * 16)
    # The registry hides experts made for another base and says why.
    data = json.loads((path / "manifest.json").read_text())
    data["base_fingerprint"] = "deadbeef"
    (path / "manifest.json").write_text(json.dumps(data))
    reg = ExpertRegistry(tiny_base, [tmp_path])
    assert reg.available() == [] and "another base" in next(iter(reg.skipped.values()))


@pytest.mark.parametrize("bad", ["../evil", "a/b", "..", "/abs", "", "x" * 200])
def test_ids_cannot_escape(tmp_path, bad):
    with pytest.raises(ExpertStoreError):
        expert_dir(tmp_path, bad)


def test_corrupt_weights_and_shapes(tmp_path, tiny_base):
    path = _save(tmp_path, tiny_base)
    (path / "weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ExpertStoreError, match="corrupt"):
        load_tensors(path, read_manifest(path), tiny_base.fingerprint)
    path = _save(tmp_path, tiny_base, "other")
    data = json.loads((path / "manifest.json").read_text())
    data["tensors"] = {"prompt": [4, 64]}
    (path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ExpertStoreError, match="do not match"):
        load_tensors(path, read_manifest(path), tiny_base.fingerprint)


def test_shape_must_fit_base(tmp_path, tiny_base):
    import torch

    manifest = ExpertManifest(
        id="wide",
        culture="USA",
        kind="softprompt",
        base_fingerprint=tiny_base.fingerprint,
        hyperparameters={"num_virtual_tokens": 2},
    )
    save_expert(tmp_path, manifest, {"prompt": torch.zeros(2, 65)})
    with pytest.raises(ExpertStoreError, match="expected"):
        ExpertRegistry(tiny_base, [tmp_path]).get("wide")


def test_pickle_refused(tmp_path, tiny_base):
    path = _save(tmp_path, tiny_base)
    (path / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ExpertStoreError, match="pickle"):
        load_tensors(path, read_manifest(path), tiny_base.fingerprint)


def test_corrupt_manifest(tmp_path, tiny_base):
    path = _save(tmp_path, tiny_base)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(ExpertStoreError, match="corrupt manifest"):
        read_manifest(path)
    assert ExpertRegistry(tiny_base, [tmp_path]).available() == []


def test_remove_only_user_store(tmp_path, tiny_base):
    _save(tmp_path, tiny_base)
    reg = ExpertRegistry(tiny_base, [tmp_path], user_root=tmp_path)
    reg.remove("usa-sp")
    assert reg.available() == []
    with pytest.raises(ExpertStoreError):
        reg.remove("usa-sp")


def test_registry_routes_on_a_known_fingerprint_and_loads_the_base_when_an_expert_runs(
    tmp_path, tiny_base
):
    _save(tmp_path, tiny_base)
    loads: list[int] = []

    def load():
        loads.append(1)
        return tiny_base

    reg = ExpertRegistry(None, [tmp_path], load_base=load, fingerprint=tiny_base.fingerprint)
    assert [i.id for i in reg.available()] == ["usa-sp"] and reg.for_culture("USA") is not None
    assert loads == []  # listing and routing need only the fingerprint
    assert reg.get("usa-sp").prompt.shape == (3, 64)
    assert loads == [1]
    other = ExpertRegistry(None, [tmp_path], load_base=load, fingerprint="0" * 16)
    assert other.available() == []  # experts of another base stay hidden


def test_the_fingerprint_is_known_after_the_model_loaded_once(tmp_path, tiny_base):
    from manyshores.config import Settings
    from manyshores.runtime.base_model import known_fingerprint, load_base_model

    model_dir = tmp_path / "model"
    tiny_base.model.save_pretrained(model_dir)
    tiny_base.tokenizer.save_pretrained(model_dir)
    settings = Settings(home=tmp_path / "home")
    assert known_fingerprint(str(model_dir), settings) is None
    loaded = load_base_model(str(model_dir), settings)
    assert known_fingerprint(str(model_dir), settings) == loaded.fingerprint
    # A changed model is another key: its old fingerprint is not trusted.
    config = model_dir / "config.json"
    config.write_text(config.read_text().replace("{", '{"_edited": 1, ', 1))
    assert known_fingerprint(str(model_dir), settings) is None
