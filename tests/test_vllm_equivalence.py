"""The vLLM engine equals the in-process engine on the real default model: a real vLLM server
(`make engine`) started by `manyshores engine start`'s code with a LoRA expert in the store; a
survey question scored and a committee turn generated through both engines.

Tolerance: option probabilities agreed to 1e-5 when measured (float32 on both sides, vLLM's
batched kernels against transformers); the test allows 1e-3. Greedy text: equal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manyshores.state import ExpertChoice

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[1]
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
VLLM_INSTALLED = ROOT / ".venv-vllm" / ".installed"
"""Written by `make engine` once the environment is complete (a failed build leaves none)."""
TOLERANCE = 1e-3
OPTIONS = ["Very important", "Rather important", "Not very important", "Not at all important"]


def _choice(expert_id: str, culture: str, kind: str) -> ExpertChoice:
    return {"id": expert_id, "culture": culture, "kind": kind, "weight": 1.0, "reason": ""}


@pytest.fixture(scope="module")
def engines(default_base, tmp_path_factory):
    if not (VLLM_PYTHON.is_file() and VLLM_INSTALLED.is_file()):
        pytest.skip(f"no complete vLLM environment at {VLLM_PYTHON.parents[1]}: run `make engine`")
    import torch
    from safetensors.torch import save_file

    from manyshores.config import Settings
    from manyshores.experts.committee import Committee
    from manyshores.experts.lora.model import LoraExpert
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.experts.vllm.engine import vllm_engine
    from manyshores.experts.vllm.server import start, stop

    home = tmp_path_factory.mktemp("vllm-home")
    store = home / "experts"
    # A LoRA expert with a visible effect (random B, not PEFT's zero init).
    hp = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    shapes = LoraExpert.expected_shapes(default_base, hp)
    assert shapes
    torch.manual_seed(0)
    tensors = {k: torch.randn(*v) * 0.05 for k, v in shapes.items()}
    (store / "ken-lora").mkdir(parents=True)
    save_file(tensors, str(store / "ken-lora" / "weights.safetensors"))
    manifest = {
        "id": "ken-lora",
        "culture": "KEN",
        "kind": "lora",
        "base_fingerprint": default_base.fingerprint,
        "hyperparameters": hp,
        "tensors": {k: list(v) for k, v in shapes.items()},
    }
    (store / "ken-lora" / "manifest.json").write_text(json.dumps(manifest))
    settings = Settings(home=home, vllm_python=VLLM_PYTHON, engine="vllm", vllm_timeout_s=300.0)
    state = start(settings, wait_s=600)
    try:
        assert "ken-lora" in state.adapters and "base" in state.adapters
        registry = ExpertRegistry.from_settings(settings, default_base)
        local = Committee(default_base, registry)
        yield local, vllm_engine(settings, Committee(default_base, registry))
    finally:
        stop(settings)


CHOICES = [
    _choice("base", "", "base"),
    _choice("persona:JPN", "JPN", "persona"),
    _choice("persona:BRA", "BRA", "persona"),
    _choice("ken-lora", "KEN", "lora"),
]


def test_survey_question_distributions_equal(engines):
    local, remote = engines
    question = "How important is family in your life?"
    context = "Families in Kenya often gather for meals on Sundays."
    exact = local.score_options(question, OPTIONS, context, CHOICES)
    served = remote.score_options(question, OPTIONS, context, CHOICES)
    for a, b in zip(exact, served, strict=True):
        assert b["engine"] == "vllm", b.get("note")
        assert max(abs(x - y) for x, y in zip(a["option_probs"], b["option_probs"])) < TOLERANCE
        assert a["text"] == b["text"]
    # The LoRA expert is really applied: its distribution is not the base's.
    assert (
        max(abs(x - y) for x, y in zip(exact[0]["option_probs"], exact[3]["option_probs"])) > 1e-3
    )


def test_committee_turn_greedy_text_equal(engines):
    local, remote = engines
    chat = [{"role": "user", "content": "What gift should I bring to a dinner with friends?"}]
    exact = local.generate(chat, CHOICES[1:], max_new_tokens=32)
    served = remote.generate(chat, CHOICES[1:], max_new_tokens=32)
    for a, b in zip(exact, served, strict=True):
        assert b["engine"] == "vllm", b.get("note")
        assert a["text"] == b["text"]
        assert a["input_tokens"] == b["input_tokens"]
    pieces: list[str] = []
    [streamed] = remote.generate(chat, CHOICES[1:2], max_new_tokens=32, on_token=pieces.append)
    assert streamed["text"] == exact[0]["text"] == "".join(pieces).strip()
