"""The survey decision: combination, choice rules, memory lookup, calibration stored with experts."""

from __future__ import annotations

from pathlib import Path

import pytest

from manyshores.errors import ExpertStoreError
from manyshores.survey.decision import (
    Calibration,
    decide,
    expected_position_choice,
    memory_lookup,
    product_with_memory,
    read_calibration,
)
from manyshores.survey.memory import SurveyMemory

OPTIONS = ("Agree", "Neither", "Disagree")


def test_answer_is_the_most_likely_option_and_choice_the_expected_position() -> None:
    memory = [0.45, 0.05, 0.5]  # bimodal: the mode is the last option, the mean the middle one
    decision = decide(None, memory, Calibration(choice_sharpen=1.0))
    assert decision.probs == memory and decision.memory
    assert decision.answer == 2
    assert decision.choice == expected_position_choice(memory) == 1


def test_weight_zero_ignores_the_experts_and_weight_one_multiplies_them() -> None:
    expert, memory = [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]
    assert decide(expert, memory, Calibration(expert_weight=0.0)).probs == memory
    both = decide(expert, memory, Calibration(expert_weight=1.0, choice_sharpen=2.0))
    assert both.probs == product_with_memory(expert, memory, 1.0)
    assert both.probs[0] > memory[0]
    assert both.choice == expected_position_choice(product_with_memory(expert, memory, 1.0, 2.0))
    alone = decide(expert, None, Calibration(expert_weight=1.0))
    assert alone.probs == expert and alone.answer == alone.choice == 0 and not alone.memory
    with pytest.raises(ValueError):
        decide(None, None, Calibration())


def test_needs_experts_only_when_they_carry_weight_or_memory_is_silent() -> None:
    assert not Calibration(expert_weight=0.0).needs_experts(memory_answered=True)
    assert Calibration(expert_weight=0.0).needs_experts(memory_answered=False)
    assert Calibration(expert_weight=0.3).needs_experts(memory_answered=True)


class _Memory(SurveyMemory):
    """Survey memory over hand-made vectors (no embedding model): similarity is exact."""

    def __init__(self, vectors: dict[str, list[float]], answers: dict[str, dict[str, list[float]]]):
        import numpy as np

        questions = {q: (q, OPTIONS) for q in vectors if not q.startswith("text:")}
        super().__init__(questions, answers)
        self._vectors.update({k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()})


def _memory() -> _Memory:
    return _Memory(
        {"q1": [1.0, 0.0], "q2": [0.0, 1.0], "ask": [0.8, 0.6], "far": [0.0, 1.0]},
        {"KEN": {"q1": [1.0, 0.0, 0.0]}, "USA": {"q1": [0.0, 0.0, 1.0]}},
    )


def test_memory_lookup_mixes_cultures_and_gates_on_similarity() -> None:
    memory = _memory()
    found = memory_lookup(
        memory, [("KEN", 0.75), ("USA", 0.25)], "ask", OPTIONS, floor=0.5, qid="ask"
    )
    assert found is not None
    assert found.probs == pytest.approx([0.75, 0.0, 0.25])
    assert found.similarity == pytest.approx(0.8 + 0.2)  # cosine + same-scale bonus
    assert memory_lookup(memory, [("KEN", 1.0)], "ask", OPTIONS, floor=1.5, qid="ask") is None
    # The base model (no culture) has no memory of its own.
    assert memory_lookup(memory, [("", 1.0)], "ask", OPTIONS, floor=None, qid="ask") is None


def test_memory_lookup_serves_a_culture_without_answers_from_its_nearest_cultures() -> None:
    memory = _memory()
    # Uganda has no answers: Kenya (its nearest culture of the two) speaks for it.
    found = memory_lookup(memory, [("UGA", 1.0)], "ask", OPTIONS, floor=None, qid="ask")
    assert found is not None and found.probs[0] > found.probs[2]
    assert memory.without("KEN").cultures() == ["USA"]


def test_calibration_round_trip_and_bad_files(tmp_path: Path) -> None:
    assert read_calibration(tmp_path) is None
    cal = Calibration(expert_weight=0.2, experts_stamp="abc", base_fingerprint="fp")
    cal.save(tmp_path)
    assert read_calibration(tmp_path) == cal and cal.calibrated
    (tmp_path / "calibration.json").write_text('{"expert_weight": -1}')
    with pytest.raises(ExpertStoreError, match="out of range"):
        read_calibration(tmp_path)
    (tmp_path / "calibration.json").write_text('{"weight": 1}')
    with pytest.raises(ExpertStoreError, match="unknown fields"):
        read_calibration(tmp_path)
