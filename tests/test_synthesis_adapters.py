"""Task adapters on the tiny model: train, store, load through the registry, route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manyshores.experts.lora.config import LoraExpertConfig
from manyshores.experts.prompts import task_messages
from manyshores.experts.registry import ExpertRegistry
from manyshores.experts.routing import route_task_experts
from manyshores.experts.runner import AdapterRunner
from manyshores.experts.store import ExpertManifest, save_expert
from manyshores.experts.task_adapters import (
    TaskAdapterConfig,
    task_adapter_id,
    train_task_adapter,
)


def _examples(culture: str, n: int = 6) -> list[dict]:
    return [
        {
            "id": f"{culture}{i}",
            "culture": culture,
            "format": "short_answer",
            "question": f"What do people eat for breakfast on day {i}?",
            "answer": "tea and mandazi",
            "provenance": {"passage": "Many families drink tea with mandazi."},
        }
        for i in range(n)
    ]


def _cfg() -> TaskAdapterConfig:
    return TaskAdapterConfig(lora=LoraExpertConfig(r=2, alpha=4, epochs=2, lr=5e-3), batch_size=4)


def test_train_save_load_generate_and_route(tiny_base, tmp_path: Path) -> None:
    result = train_task_adapter(
        tiny_base,
        _examples("KEN"),
        culture="KEN",
        task="food_qa",
        root=tmp_path,
        config=_cfg(),
        progress=False,
    )
    assert result.expert_id == task_adapter_id("KEN", "food_qa") == "KEN.food_qa.lora"
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["kind"] == "lora" and manifest["tasks"] == ["food_qa", "open_qa"]
    assert manifest["base_fingerprint"] == tiny_base.fingerprint
    assert sorted(p.name for p in result.path.iterdir()) == ["manifest.json", "weights.safetensors"]
    losses = [h["train_loss"] for h in result.metrics["history"]]
    assert len(losses) == 2 and losses[1] < losses[0]  # it learns the repeated answer

    registry = ExpertRegistry(tiny_base, [tmp_path], user_root=tmp_path)
    runner = AdapterRunner(tiny_base, registry)
    msgs = task_messages("KEN", "What do people eat for breakfast?")
    with_adapter = runner.generate(result.expert_id, msgs, max_new_tokens=4)
    assert isinstance(with_adapter, str)
    other = task_messages("KEN", "Which drink goes with mandazi in the morning, usually?")
    batch = runner.generate_batch(result.expert_id, [msgs, other], max_new_tokens=4)
    assert batch[0] == with_adapter  # left padding changes nothing (greedy)
    assert batch[1] == runner.generate(result.expert_id, other, max_new_tokens=4)
    assert runner.generate_batch(None, [msgs])[0] == runner.generate(None, msgs)
    # the shared base is untouched by the adapter
    assert not any("lora" in n for n, _ in tiny_base.model.named_parameters())

    route = route_task_experts(registry, {"KEN": 0.9, "TZA": 0.1}, "food_qa")
    assert route.level == "task" and route.expert_ids == [result.expert_id]
    # the graph routes by the task it detects: short-answer data serves `open_qa`
    detected = route_task_experts(registry, {"KEN": 0.9}, "open_qa")
    assert detected.level == "task" and detected.expert_ids == [result.expert_id]


def test_router_falls_back_to_general_expert_then_committee(tiny_base, tmp_path: Path) -> None:
    train_task_adapter(
        tiny_base,
        _examples("KEN"),
        culture="KEN",
        task="food_qa",
        root=tmp_path,
        config=_cfg(),
        progress=False,
    )
    # A general (survey) LoRA expert for Tanzania, written straight to the store.
    ken = json.loads((tmp_path / "KEN.food_qa.lora" / "manifest.json").read_text())
    from safetensors.torch import load_file

    tensors = load_file(str(tmp_path / "KEN.food_qa.lora" / "weights.safetensors"))
    save_expert(
        tmp_path,
        ExpertManifest(
            id="TZA.lora",
            culture="TZA",
            kind="lora",
            base_fingerprint=tiny_base.fingerprint,
            tasks=["multiple_choice"],
            hyperparameters=ken["hyperparameters"],
        ),
        tensors,
    )
    registry = ExpertRegistry(tiny_base, [tmp_path], user_root=tmp_path)

    general = route_task_experts(registry, {"TZA": 0.8, "KEN": 0.2}, "food_qa")
    assert general.level == "culture" and general.expert_ids == ["TZA.lora"]
    mixed = route_task_experts(registry, {"TZA": 0.5, "KEN": 0.4, "UGA": 0.1}, "food_qa")
    assert mixed.level == "committee"
    assert mixed.expert_ids == ["TZA.lora", "KEN.food_qa.lora"]
    assert abs(sum(mixed.weights) - 1) < 1e-9 and mixed.weights[0] > mixed.weights[1]
    unknown = route_task_experts(registry, {"FJI": 1.0}, "food_qa")
    assert unknown.level == "committee" and unknown.expert_ids == []


def test_joint_adapter_prompts_each_example_with_its_culture(tiny_base, tmp_path: Path) -> None:
    examples = _examples("KEN", 3) + _examples("MEX", 3)
    result = train_task_adapter(
        tiny_base,
        examples,
        culture="*",
        task="food_qa",
        root=tmp_path,
        config=_cfg(),
        progress=False,
    )
    assert result.expert_id == "joint.food_qa.lora"
    assert json.loads((result.path / "manifest.json").read_text())["culture"] == "*"


def test_graph_committee_prefers_the_culture_task_adapter(tiny_base, tmp_path: Path) -> None:
    from manyshores.components.expert_backend import CommitteeBackend
    from tests.graph_fixtures import tiny_components

    components = tiny_components(tiny_base, tmp_path)
    train_task_adapter(
        tiny_base,
        _examples("KEN"),
        culture="KEN",
        task="everyday_qa",
        root=components.settings.user_experts_dir,
        config=_cfg(),
        progress=False,
    )
    backend = CommitteeBackend(components)

    def posterior(culture: str, p: float) -> dict:
        rest = {"id": "TZA", "name": "Tanzania", "p": 1 - p}
        top = {"id": culture, "name": culture, "p": p}
        return {"cultures": [top, rest], "ambiguous": False, "unknown": False, "signals": []}

    task = {"name": "open_qa", "question": "What do people eat for breakfast?", "options": []}
    decision = backend.route(posterior("KEN", 0.9), task, language="en")  # type: ignore[arg-type]
    choices = decision.experts
    assert decision.path == "task_adapter"
    assert [c["id"] for c in choices] == ["KEN.everyday_qa.lora"]
    assert choices[0]["path"] == "task_adapter" and choices[0]["kind"] == "lora"
    answers = backend.answer(choices, text=task["question"], task=task, sources=[], conversation=[])  # type: ignore[arg-type]
    runner = AdapterRunner(tiny_base, ExpertRegistry.from_settings(components.settings, tiny_base))
    expected = runner.generate(
        "KEN.everyday_qa.lora",
        task_messages("KEN", task["question"]),
        components.settings.max_new_tokens,
    )
    assert answers[0]["text"] == expected
    # no adapter for the culture, an ambiguous posterior, or a survey question: routing as before
    for post, t in (
        (posterior("UGA", 0.9), task),
        (posterior("KEN", 0.5), task),
        (posterior("KEN", 0.9), {**task, "name": "multiple_choice", "options": ["a", "b"]}),
    ):
        decision = backend.route(post, t, language="en")  # type: ignore[arg-type]
        assert decision.path != "task_adapter"
        assert all(c["kind"] != "lora" for c in decision.experts)


def test_notes_replace_the_source_passage_and_leave_out_the_own_question(
    tiny_base, tmp_path: Path
) -> None:
    from manyshores.experts.task_adapters import example_messages, source_question_ids

    ex = _examples("KEN", 1)[0]
    ex["provenance"]["source"] = "https://pages.example.org/KEN/Al-en-01/local"
    assert source_question_ids(ex, {"Al-en-01", "Al-en-02"}) == {"Al-en-01"}
    assert source_question_ids({"provenance": {}}, {"Al-en-01"}) == set()

    def notes(e: dict, culture: str) -> list[str]:
        return [f"In {culture}: a related answer.", "Another note."]

    with_notes = example_messages(ex, "KEN", True, notes)
    assert with_notes == task_messages(
        "KEN", ex["question"], context=["In KEN: a related answer.", "Another note."]
    )  # exactly the prompt `task_adapter_rag` is asked with
    assert "mandazi" not in with_notes[1]["content"]
    assert "mandazi" in example_messages(ex, "KEN", True)[1]["content"]  # source passage
    assert example_messages(ex, "KEN", False, notes) == task_messages("KEN", ex["question"])

    seen: list[str] = []

    def spy(e: dict, culture: str) -> list[str]:
        seen.append(culture)
        return notes(e, culture)

    cfg = TaskAdapterConfig(
        lora=LoraExpertConfig(r=2, alpha=4, epochs=3, lr=5e-3), batch_size=4, context_share=1.0
    )
    result = train_task_adapter(
        tiny_base,
        _examples("KEN", 4) + _examples("MEX", 4),
        culture="*",
        task="food_qa",
        root=tmp_path,
        config=cfg,
        progress=False,
        notes=spy,
    )
    assert sorted(set(seen)) == ["KEN", "MEX"] and len(seen) == 8  # each with its own culture
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["hyperparameters"]["notes"] == "given"


def test_answer_loss_equals_the_full_logits_loss(tiny_base) -> None:
    """The last-positions loss on left-padded rows is the model's own loss on unpadded rows."""
    import torch

    from manyshores.experts.lora.train import answer_loss
    from manyshores.runtime.batching import left_pad

    gen = torch.Generator().manual_seed(0)
    vocab = tiny_base.model.config.vocab_size
    rows = []
    for prompt_len, answer_len in [(12, 3), (7, 5), (20, 1)]:
        prompt = torch.randint(5, vocab, (prompt_len,), generator=gen).tolist()
        answer = torch.randint(5, vocab, (answer_len,), generator=gen).tolist()
        rows.append((prompt + answer, [-100] * prompt_len + answer))
    model = tiny_base.model
    padded = left_pad([x for x, _ in rows], 0, [y for _, y in rows])
    assert int(padded.mask[0].sum()) == 15 and padded.ids[0, 0] == 0  # left-padded
    weight = model.get_input_embeddings().weight
    was_trained = weight.requires_grad
    weight.requires_grad_(True)  # the pad rows must not poison the gradient
    try:
        ours = answer_loss(tiny_base)(model, rows)
        (grad,) = torch.autograd.grad(ours, weight)
    finally:
        weight.requires_grad_(was_trained)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0

    total, count = torch.zeros(()), 0
    for x, y in rows:  # one row at a time: no padding at all
        out = model(input_ids=torch.tensor([x]), labels=torch.tensor([y]))
        n = sum(1 for t in y[1:] if t != -100)
        total, count = total + out.loss * n, count + n
    assert torch.isfinite(ours)
    assert abs(float(ours) - float(total / count)) < 1e-4


def test_library_and_cli_adapter_defaults_agree() -> None:
    """`TaskAdapterConfig()` trains the adapter `data train-adapter` trains with no options."""
    import inspect

    from manyshores.cli.data import train_adapter_cmd

    cli = {
        name: p.default.default
        for name, p in inspect.signature(train_adapter_cmd).parameters.items()
    }
    lib = TaskAdapterConfig()
    assert (lib.lora.epochs, lib.lora.lr, lib.lora.r, lib.lora.patience) == (
        cli["epochs"],
        cli["lr"],
        cli["rank"],
        cli["patience"],
    )
    assert (lib.batch_size, lib.context_share, lib.lora.seed) == (
        cli["batch_size"],
        cli["context_share"],
        cli["seed"],
    )


def test_a_diverged_training_is_a_clear_error_and_saves_nothing(
    tiny_base, tmp_path: Path, monkeypatch
) -> None:
    from manyshores.errors import ManyshoresError
    from manyshores.experts.lora import train

    monkeypatch.setattr(train, "mean_loss", lambda *a, **k: float("nan"))
    with pytest.raises(ManyshoresError, match="diverged"):
        train_task_adapter(
            tiny_base,
            _examples("KEN", 12),  # ≥ 10 examples: some are held out and scored
            culture="KEN",
            task="food_qa",
            root=tmp_path,
            config=_cfg(),
            progress=False,
        )
    assert not any(tmp_path.iterdir())
