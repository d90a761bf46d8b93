"""Aggregation math, routing to own / nearest experts, survey memory and scores."""

from __future__ import annotations

import math

import pytest

from manyshores.eval.metrics.survey import country_scores, expected_position_choice, jsd
from manyshores.experts.combine import aggregate_options, aggregate_text
from manyshores.experts.routing import route_experts
from manyshores.survey.memory import rescale


def _ans(eid: str, w: float, probs=None, text: str = ""):
    return {
        "expert_id": eid,
        "culture": eid,
        "weight": w,
        "text": text,
        "option_probs": probs,
        "seconds": 0.0,
    }


def test_mixture_choice_and_disagreement():
    probs, choice, dis = aggregate_options(
        [_ans("a", 0.7, [1.0, 0.0, 0.0]), _ans("b", 0.3, [0.0, 0.0, 1.0])]
    )
    assert probs == pytest.approx([0.7, 0.0, 0.3])
    assert choice == 1  # expected position 0.6: the middle option, though it has no mass
    assert aggregate_options([_ans("a", 0.7, [1.0, 0.0, 0.0])], ordinal=False)[1] == 0
    h = -(0.7 * math.log2(0.7) + 0.3 * math.log2(0.3))
    assert dis == pytest.approx(h)
    same = aggregate_options([_ans("a", 0.5, [0.2, 0.8]), _ans("b", 0.5, [0.2, 0.8])])
    assert same[2] == pytest.approx(0.0, abs=1e-12) and same[1] == 1


def test_expected_position_and_scores():
    assert expected_position_choice([0.5, 0.0, 0.0, 0.5]) == 1  # 1.5 -> tie, lower index
    assert expected_position_choice([0.1, 0.2, 0.7]) == 2
    assert jsd([1, 0], [1, 0]) == 0 and jsd([1, 0], [0, 1]) == pytest.approx(1.0)
    s = country_scores([[0.1, 0.9], [0.6, 0.4]], [[0.0, 1.0], [1.0, 0.0]])
    assert s["spa"] == 1.0 and s["majority_acc"] == 1.0


def test_text_aggregation():
    text, dis = aggregate_text(
        [
            _ans("a", 0.4, text="rice and beans"),
            _ans("b", 0.3, text="rice and beans daily"),
            _ans("c", 0.3, text="bread"),
        ]
    )
    assert text.startswith("rice") and 0 < dis < 1
    assert aggregate_text([_ans("a", 1.0, text="x")]) == ("x", 0.0)


def test_rescale():
    assert rescale([0.0, 1.0], 3) == [0.0, 0.0, 1.0]
    assert sum(rescale([0.2, 0.3, 0.5], 10)) == pytest.approx(1.0)


class _FakeRegistry:
    def __init__(self, cultures):
        self._c = cultures

    def cultures(self, kind=None):
        return sorted(self._c)

    def for_culture(self, culture, kind=None):
        from manyshores.experts.types import ExpertInfo

        return ExpertInfo(f"{culture}-sp", culture, "softprompt") if culture in self._c else None


def test_route_own_and_nearest():
    reg = _FakeRegistry(["USA", "GBR", "CHN"])
    post = {
        "cultures": [{"id": "USA", "p": 0.7}, {"id": "CAN", "p": 0.3}],
        "ambiguous": True,
        "unknown": False,
        "signals": [],
    }
    choices = route_experts(post, None, reg)  # type: ignore[arg-type]
    assert abs(sum(c["weight"] for c in choices) - 1) < 1e-9
    assert choices[0]["id"] == "USA-sp"
    assert any(c["reason"] == "nearest to CAN" for c in choices)
    empty = {"cultures": [], "ambiguous": False, "unknown": True, "signals": []}
    assert route_experts(empty, None, reg) == []  # type: ignore[arg-type]
