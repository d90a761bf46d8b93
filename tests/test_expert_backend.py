"""The graph's expert backend on survey questions: the calibration decides whether experts run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from manyshores.components import Components
from manyshores.components.expert_backend import SURVEY_MEMORY_ID, CommitteeBackend
from manyshores.config import Settings
from manyshores.experts.store import ExpertManifest, save_expert
from manyshores.state import CulturePosterior, TaskInfo
from manyshores.survey.decision import Calibration

FAMILY: TaskInfo = {
    "name": "multiple_choice",
    "question": "How important is family in your life?",
    "options": ["Very important", "Rather important", "Not very important", "Not at all important"],
}
KENYA: CulturePosterior = {
    "cultures": [{"id": "KEN", "p": 1.0}],
    "ambiguous": False,
    "unknown": False,
    "signals": [],
}


@contextmanager
def counting_forwards(base) -> Iterator[list[int]]:
    """Counts forward passes through the base model's transformer (the committee calls the
    decoder directly, so a hook on the causal-LM wrapper would miss them)."""
    calls = [0]

    def hook(*_: object) -> None:
        calls[0] += 1

    handle = base.model.get_decoder().register_forward_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()


def _backend(tiny_base, root: Path, weight: float) -> CommitteeBackend:
    import torch

    torch.manual_seed(0)
    save_expert(
        root,
        ExpertManifest(
            id="ken-sp",
            culture="KEN",
            kind="softprompt",
            base_fingerprint=tiny_base.fingerprint,
            hyperparameters={"num_virtual_tokens": 2},
        ),
        {"prompt": torch.randn(2, 64)},
    )
    settings = Settings(home=root.parent, experts_dir=root, tavily_api_key=None)
    backend = CommitteeBackend(Components(settings=settings, base=tiny_base))
    registry = backend._part("registry")
    Calibration(
        expert_weight=weight,
        experts_stamp=registry.experts_stamp(),
        base_fingerprint=tiny_base.fingerprint,
    ).save(root)
    registry.refresh()
    return backend


def test_weight_zero_runs_no_soft_prompt_forward(tiny_base, tmp_path: Path) -> None:
    backend = _backend(tiny_base, tmp_path / "experts", 0.0)
    choices = backend.route(KENYA, FAMILY).experts
    assert [c["id"] for c in choices] == ["ken-sp"]
    with counting_forwards(tiny_base) as calls:
        answers = backend.answer(choices, text="", task=FAMILY, sources=[], conversation=[])
    assert calls[0] == 0
    assert [a["expert_id"] for a in answers] == [SURVEY_MEMORY_ID]
    text, probs, choice, _, notes = backend.aggregate(answers, FAMILY)
    # Kenyans overwhelmingly answer "Very important"; that is memory's answer, not the model's.
    assert probs == answers[0]["option_probs"] and probs[0] == max(probs)
    assert text == FAMILY["options"][0] and choice is not None
    assert any("did not run" in n for n in notes)


def test_a_weighted_expert_set_runs_its_experts(tiny_base, tmp_path: Path) -> None:
    backend = _backend(tiny_base, tmp_path / "experts", 0.5)
    assert backend.calibration().expert_weight == 0.5
    choices = backend.route(KENYA, FAMILY).experts
    with counting_forwards(tiny_base) as calls:
        answers = backend.answer(choices, text="", task=FAMILY, sources=[], conversation=[])
    assert calls[0] > 0
    assert [a["expert_id"] for a in answers] == ["ken-sp"]
    _, probs, _, _, notes = backend.aggregate(answers, FAMILY)
    assert probs != answers[0]["option_probs"]  # the product with memory
    assert any("survey memory" in n for n in notes)


def test_a_calibration_of_another_expert_set_is_not_used(tiny_base, tmp_path: Path) -> None:
    backend = _backend(tiny_base, tmp_path / "experts", 0.5)
    registry = backend._part("registry")
    Calibration(expert_weight=0.5, experts_stamp="other", base_fingerprint="x").save(
        tmp_path / "experts"
    )
    registry.refresh()
    assert registry.calibration() == Calibration()
    assert not registry.calibration().calibrated


def test_an_unrelated_multiple_choice_question_is_left_to_the_experts(
    tiny_base, tmp_path: Path
) -> None:
    backend = _backend(tiny_base, tmp_path / "experts", 0.0)
    drink: TaskInfo = {
        "name": "multiple_choice",
        "question": "Which drink is most common at breakfast?",
        "options": ["Tea", "Coffee", "Juice"],
    }
    choices = backend.route(KENYA, drink).experts
    with counting_forwards(tiny_base) as calls:
        answers = backend.answer(choices, text="", task=drink, sources=[], conversation=[])
    assert calls[0] > 0 and answers[0]["expert_id"] == "ken-sp"
    _, probs, choice, _, notes = backend.aggregate(answers, drink)
    assert probs == pytest.approx(answers[0]["option_probs"])
    assert choice == max(range(3), key=lambda i: probs[i])
    assert not any("survey memory" in n for n in notes)
