"""Base model loading: specs, caching, clear errors, and the real default model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from manyshores.config import Settings
from manyshores.errors import ModelLoadError
from manyshores.runtime.base_model import load_base_model, model_fingerprint
from manyshores.runtime.generation import chat_input_ids, generate_text


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


def test_tiny_model_fingerprint_is_stable_and_sensitive(tiny_base):
    from tests.tiny_model import build_tiny_base_model

    other = build_tiny_base_model(seed=1)  # same architecture and vocab, other weights
    assert model_fingerprint(other.model, other.tokenizer) == tiny_base.fingerprint
    wider = build_tiny_base_model(hidden=32)
    assert wider.fingerprint != tiny_base.fingerprint


def test_generation_respects_token_budget(tiny_base):
    ids = chat_input_ids(tiny_base, [{"role": "user", "content": "hello Kenya"}])
    assert ids.shape[0] == 1 and ids.shape[1] > 3
    text = generate_text(tiny_base, [{"role": "user", "content": "hello"}], max_new_tokens=5)
    assert isinstance(text, str)
    assert len(tiny_base.tokenizer(text)["input_ids"]) <= 6


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_base_model(str(tmp_path / "no-such-model"), _settings(tmp_path))


def test_directory_without_config_is_rejected(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_base_model(str(tmp_path / "m"), _settings(tmp_path))


def test_corrupt_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    with pytest.raises(ModelLoadError, match="cannot read GGUF"):
        load_base_model(str(bad), _settings(tmp_path / "home"))


def test_corrupt_weights_in_directory_are_a_clear_error(tmp_path, tiny_base):
    d = tmp_path / "model"
    tiny_base.model.save_pretrained(d)
    tiny_base.tokenizer.save_pretrained(d)
    weights = next(d.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="cannot load base model"):
        load_base_model(str(d), _settings(tmp_path))


def test_local_directory_round_trip(tmp_path, tiny_base):
    d = tmp_path / "model"
    tiny_base.model.save_pretrained(d)
    tiny_base.tokenizer.save_pretrained(d)
    loaded = load_base_model(str(d), _settings(tmp_path))
    assert loaded.fingerprint == tiny_base.fingerprint
    assert not any(p.requires_grad for p in loaded.model.parameters())


def test_hub_id_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelLoadError, match="unreachable"):
        load_base_model("someorg/some-model-that-is-not-cached", _settings(tmp_path))
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    "spec, needle",
    [("/definitely/not/here", "does not exist"), ("someorg/not-cached-model", "unreachable")],
)
def test_cli_bad_spec_prints_one_error_line(tmp_path, spec, needle):
    env = {
        **os.environ,
        "MANYSHORES_BASE_MODEL": spec,
        "MANYSHORES_HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "manyshores.cli.main", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_default_model_loads_and_answers(default_base):
    assert default_base.model.config.model_type == "llama"
    text = generate_text(
        default_base, [{"role": "user", "content": "Name a fruit."}], max_new_tokens=8
    )
    assert len(text) > 0


@pytest.mark.slow
def test_concurrent_conversion_leaves_one_valid_cache(tmp_path):
    """Two processes converting the same GGUF at once: both succeed, the cache is whole."""
    code = (
        "from pathlib import Path; import sys;"
        "from manyshores.runtime.base_model import convert_gguf, default_gguf_path;"
        "print(convert_gguf(default_gguf_path(), Path(sys.argv[1])))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    paths = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(paths) == 1
    target = Path(paths.pop())
    assert (target / "config.json").is_file() and (target / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp dirs left behind
    loaded = load_base_model(str(target), _settings(tmp_path / "home"))
    assert loaded.model.config.model_type == "llama"
