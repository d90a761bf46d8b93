"""A few training steps reduce the soft-label loss; training resumes from its saved state."""

from __future__ import annotations

from manyshores.experts.scoring import survey_messages
from manyshores.experts.softprompt.config import SoftPromptConfig
from manyshores.experts.softprompt.train import PromptExample, train_prompts


def _ex(slot: int, q: str, target: tuple[float, ...]) -> PromptExample:
    msgs = survey_messages(q, ["yes", "no", "maybe"])
    return PromptExample(slot, tuple((m["role"], m["content"]) for m in msgs), 3, target, q)


def test_steps_reduce_loss_and_resume(tiny_base, tmp_path):
    fit = [
        _ex(0, "Is tea good?", (0.8, 0.1, 0.1)),
        _ex(1, "Is tea good?", (0.1, 0.1, 0.8)),
        _ex(0, "Is fox quick?", (0.7, 0.2, 0.1)),
        _ex(1, "Is fox quick?", (0.1, 0.2, 0.7)),
    ]
    cfg = SoftPromptConfig(num_virtual_tokens=3, epochs=4, lr=0.1, patience=10)
    state = tmp_path / "state.safetensors"
    first = train_prompts(tiny_base, fit, fit, 2, cfg, state_path=state)
    losses = [h["train_loss"] for h in first.history]
    assert losses[-1] < losses[0]
    cfg.epochs = 5  # resumes after epoch 4 instead of starting again
    more = train_prompts(tiny_base, fit, fit, 2, cfg, state_path=state)
    assert more.epochs_run == 5 and more.history[:4] == first.history


def test_lora_training_steps(tiny_base):
    from manyshores.experts.lora.config import LoraExpertConfig
    from manyshores.experts.lora.train import train_lora

    fit = [_ex(0, "Is tea good?", (0.8, 0.1, 0.1)), _ex(0, "Is fox quick?", (0.7, 0.2, 0.1))]
    weights, metrics = train_lora(
        tiny_base, fit, fit, LoraExpertConfig(epochs=3, lr=0.05, patience=5)
    )
    hist = metrics["history"]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert any("lora_A" in k for k in weights)
