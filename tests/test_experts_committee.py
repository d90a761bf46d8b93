"""Option scoring and the committee: distributions sum to 1, committee equals each expert alone."""

from __future__ import annotations

import pytest

from manyshores.experts.committee import Committee
from manyshores.experts.registry import ExpertRegistry
from manyshores.experts.store import ExpertManifest, save_expert
from manyshores.state import ExpertChoice

OPTIONS = ["Very important", "Rather important", "Not very important", "Not at all important"]


@pytest.fixture(scope="module")
def tiny_committee(tiny_base, tmp_path_factory):
    import torch

    root = tmp_path_factory.mktemp("experts")
    for i, (culture, n) in enumerate([("USA", 3), ("KEN", 3), ("CHN", 5)]):
        torch.manual_seed(i)
        save_expert(
            root,
            ExpertManifest(
                id=f"{culture.lower()}-sp",
                culture=culture,
                kind="softprompt",
                base_fingerprint=tiny_base.fingerprint,
                hyperparameters={"num_virtual_tokens": n},
            ),
            {"prompt": torch.randn(n, 64)},
        )
    registry = ExpertRegistry(tiny_base, [root])
    choices = [
        {"id": i.id, "culture": i.culture, "kind": "softprompt", "weight": 1 / 3, "reason": "test"}
        for i in registry.available()
    ]
    return Committee(tiny_base, registry), choices


def test_scores_sum_to_one_and_equal_solo(tiny_committee):
    committee, choices = tiny_committee
    extra = [
        {"id": "base", "culture": "", "kind": "base", "weight": 0.0, "reason": ""},
        {"id": "persona:KEN", "culture": "KEN", "kind": "persona", "weight": 0.0, "reason": ""},
    ]
    together = committee.score_options("How important is family?", OPTIONS, "Tea.", choices + extra)
    alone = committee.score_options_solo(
        "How important is family?", OPTIONS, "Tea.", choices + extra
    )
    for a, b in zip(together, alone, strict=True):
        assert a["expert_id"] == b["expert_id"]
        assert sum(a["option_probs"]) == pytest.approx(1.0, abs=1e-5)
        assert (
            max(
                abs(x - y)
                for x, y in zip(a["option_probs"] or [], b["option_probs"] or [], strict=True)
            )
            < 1e-4
        )
        assert a["text"] in OPTIONS
    # Different experts really answer differently (the prompt is not ignored).
    assert together[0]["option_probs"] != together[3]["option_probs"]


def test_generate_equals_solo(tiny_committee):
    committee, choices = tiny_committee
    messages = [{"role": "user", "content": "What do people eat?"}]
    together = committee.generate(messages, choices, max_new_tokens=6, ignore_eos=True)
    alone = committee.generate_solo(messages, choices, max_new_tokens=6, ignore_eos=True)
    assert [a["text"] for a in together] == [b["text"] for b in alone]


@pytest.mark.slow
def test_shipped_experts_committee_on_default_model(default_base):
    from manyshores.config import get_settings

    registry = ExpertRegistry.from_settings(get_settings(), default_base)
    infos = registry.available("softprompt")
    assert len({i.culture for i in infos if i.shipped}) >= 16
    choices: list[ExpertChoice] = [
        {"id": i.id, "culture": i.culture, "kind": "softprompt", "weight": 1.0, "reason": "test"}
        for i in infos[:4]
    ]
    committee = Committee(default_base, registry)
    together = committee.score_options(
        "How important is family in your life?", OPTIONS, None, choices
    )
    alone = committee.score_options_solo(
        "How important is family in your life?", OPTIONS, None, choices
    )
    for a, b in zip(together, alone, strict=True):
        assert (
            max(
                abs(x - y)
                for x, y in zip(a["option_probs"] or [], b["option_probs"] or [], strict=True)
            )
            < 1e-4
        )


def test_committee_generates_lora_text_through_the_adapter(tiny_base, tmp_path):
    """A LoRA expert in a committee answers with its adapter (not the bare base), the same text
    the runner gives, on the registry's one PEFT copy."""
    import torch

    from manyshores.experts.lora.model import LoraExpert
    from manyshores.experts.runner import AdapterRunner
    from manyshores.runtime.generation import generate_text

    hp = {"r": 4, "alpha": 8}
    shapes = LoraExpert.expected_shapes(tiny_base, hp) or {}
    gen = torch.Generator().manual_seed(0)
    save_expert(
        tmp_path,
        ExpertManifest(
            id="ken-lora",
            culture="KEN",
            kind="lora",
            base_fingerprint=tiny_base.fingerprint,
            hyperparameters=hp,
        ),
        {k: torch.randn(*s, generator=gen) for k, s in shapes.items()},
    )
    registry = ExpertRegistry(tiny_base, [tmp_path])
    committee = Committee(tiny_base, registry)
    choice: ExpertChoice = {
        "id": "ken-lora",
        "culture": "KEN",
        "kind": "lora",
        "weight": 1.0,
        "reason": "test",
    }
    messages = [{"role": "user", "content": "What do people eat for breakfast?"}]
    [answer] = committee.generate(messages, [choice], max_new_tokens=6)
    bare = generate_text(tiny_base, messages, max_new_tokens=6)
    assert answer["text"] != bare
    runner = AdapterRunner(tiny_base, registry)
    assert runner.generate("ken-lora", messages, max_new_tokens=6) == answer["text"]
    host = registry.lora_host()
    assert host.loaded == {"ken-lora"} and runner.registry.lora_host() is host
    assert not any("lora" in n for n, _ in tiny_base.model.named_parameters())


def test_lora_shapes_are_what_peft_makes(tiny_base):
    """The shapes a stored LoRA expert is checked against, read without a PEFT copy."""
    from peft import get_peft_model_state_dict

    from manyshores.experts.lora.model import LoraExpert, config_from, peft_copy

    for hp in ({"r": 4}, {"r": 2, "target_modules": ["q_proj", "k_proj", "o_proj"]}):
        probe = peft_copy(tiny_base.model, config_from(hp))
        made = {k: list(v.shape) for k, v in get_peft_model_state_dict(probe).items()}
        assert LoraExpert.expected_shapes(tiny_base, hp) == made
