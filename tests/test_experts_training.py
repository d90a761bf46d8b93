"""A few training steps reduce the soft-label loss; training resumes from its saved state."""

from __future__ import annotations

from manyshores.experts.softprompt.config import SoftPromptConfig
from manyshores.experts.softprompt.train import PromptExample, train_prompts
from manyshores.runtime.scoring import survey_messages


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
    # nothing held out: the training loss picks the epoch, and no validation loss is claimed
    weights, metrics = train_lora(tiny_base, fit, [], LoraExpertConfig(epochs=2, lr=0.05))
    assert metrics["val_loss"] != metrics["val_loss"] and metrics["epochs_run"] == 2
    assert any("lora_A" in k for k in weights)


def test_prior_is_multiplied_into_the_trained_answer(tiny_base):
    from dataclasses import replace

    import torch

    from manyshores.experts.softprompt.train import _group_loss

    params = torch.zeros(1, 3, tiny_base.model.config.hidden_size)
    plain = _ex(0, "Is tea good?", (1.0, 0.0, 0.0))
    right = replace(plain, prior=(0.98, 0.01, 0.01))  # knows the answer already: loss near 0
    wrong = replace(plain, prior=(0.01, 0.01, 0.98))
    with torch.no_grad():
        base_loss = _group_loss(tiny_base, [plain], params).item()
        assert _group_loss(tiny_base, [right], params).item() < min(0.1, base_loss)
        assert _group_loss(tiny_base, [wrong], params).item() > base_loss


def test_trained_expert_leaves_its_survey_for_memory(tiny_base, tmp_path):
    from manyshores.experts.training import train_expert
    from manyshores.paths import SURVEY_FILE
    from manyshores.survey.data import SurveyQuestion
    from manyshores.survey.memory import SurveyMemory

    opts = ("Agree", "Neither", "Disagree")
    texts = ["Is tea good?", "Do you like rain?", "Should parks be free?", "Is work important?"]
    questions = {f"q{i}": SurveyQuestion(f"q{i}", t, opts) for i, t in enumerate(texts, 1)}
    data = {"XYZ": {q: [0.1, 0.1, 0.8] for q in questions}}
    cfg = SoftPromptConfig(num_virtual_tokens=2, epochs=1, val_fraction=0.25)
    manifest = train_expert(tiny_base, tmp_path, "XYZ", "softprompt", questions, data, cfg)
    assert (tmp_path / manifest.id / SURVEY_FILE).is_file()
    memory = SurveyMemory.from_package(user_store=tmp_path)
    assert "XYZ" in memory.cultures() and "USA" in memory.cultures()
    assert "Q1" in memory.questions and f"{manifest.id}:q1" in memory.questions
    found = memory.predict("XYZ", "Are teas good?", list(opts))
    assert found is not None and found.probs[2] > 0.7
    assert "XYZ" not in SurveyMemory.from_package(user_store=False).cultures()


def test_best_epoch_keeps_the_lowest_loss_and_stops_after_patience() -> None:
    from manyshores.experts.early_stopping import BestEpoch

    snapshots = iter(range(100))
    best = BestEpoch(patience=2, min_delta=0.01)
    take = lambda: {"w": next(snapshots)}  # noqa: E731
    assert best.update(1.0, take) is False
    assert best.update(0.995, take) is False  # within min_delta: not better, 1 stale
    assert best.update(0.5, take) is False  # better: weights of this epoch
    assert (best.loss, best.weights, best.stale) == (0.5, {"w": 1}, 0)
    assert best.update(0.6, take) is False
    assert best.update(0.7, take) is True  # second epoch without improvement
    assert best.weights == {"w": 1}
    diverged = BestEpoch(patience=1)
    assert diverged.update(2.0, take) is False
    assert diverged.update(float("nan"), take) is True  # a NaN loss is never the best
    assert (diverged.loss, diverged.weights) == (2.0, {"w": 2})
