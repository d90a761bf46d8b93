"""How a survey answer is decided: the choice rules and the combination's constants.

The graph's expert backend, `manyshores eval wvs` and the tuner all decide with these, so a
measured figure and the answer a user gets come from the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence

EXPERT_WEIGHT = 0.0
"""Exponent of the experts in the product with survey memory. Chosen by 5-fold cross-validation
with folds by question (4 reshuffles) over the questions that are out of sample for the experts:
the shipped soft prompts add nothing that survey memory does not already give, so the choice is 0
(see `python -m manyshores.eval.wvs_tune`)."""
CHOICE_SHARPEN = 1.25
"""The answer is the option nearest the expected position of the belief raised to this power: a
sharper belief moves the answer toward the mode. Chosen by question-fold CV over train and dev
questions together (survey memory leaves the asked question out, so all are out of sample)."""
MEMORY_MIN_SIMILARITY = 0.6
"""Survey memory joins only when a known survey question is this similar to the one asked:
below it the "neighbours" are unrelated questions and would only blur the experts' answer."""


def argmax(values: Sequence[float]) -> int:
    """Index of the largest value (the first one on ties)."""
    return max(range(len(values)), key=lambda i: values[i])


def expected_position_choice(probs: Sequence[float]) -> int:
    """The option nearest the distribution's expected position (minimises expected squared
    distance on an ordinal scale)."""
    mean = sum(i * p for i, p in enumerate(probs)) / max(sum(probs), 1e-12)
    return min(range(len(probs)), key=lambda i: (abs(i - mean), i))
