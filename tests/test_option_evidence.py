"""Everyday options scored from the shipped evidence (real bank, real vectors)."""

from __future__ import annotations

import pytest

from manyshores.eval.datasets.blend_mc import build_mc
from manyshores.evidence.bank import AnswerBank, fold_of, is_eval_id
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.options import FEATURES, WEIGHTS


@pytest.fixture(scope="module")
def bank() -> AnswerBank:
    return AnswerBank.from_dir()


@pytest.fixture(scope="module")
def package_index() -> EvidenceIndex:
    return EvidenceIndex.from_package()


def _accuracy(index: EvidenceIndex, items) -> float:  # noqa: ANN001
    hits = 0
    for it in items:
        found = index.score_options(it.question, it.culture, list(it.options))
        assert found.informative and abs(sum(found.probs) - 1) < 1e-6
        hits += max(range(len(found.probs)), key=found.probs.__getitem__) == it.answer
    return hits / len(items)


def test_a_question_people_answered_picks_their_answer(bank, package_index) -> None:
    ids = sorted({q.id for q in bank.questions["ESP"]})[:12]
    items = build_mc(bank, ids)
    assert len(items) > 100
    # The asked question is in the bank: its own most common answer should win.
    assert _accuracy(package_index, items) >= 0.8


def test_unseen_questions_are_answered_well_above_chance(bank) -> None:
    held = {q.id for qs in bank.questions.values() for q in qs if is_eval_id(q.id)}
    index = EvidenceIndex.from_package(exclude_ids=held)
    asked = sorted(i for i in held if fold_of(i, 2) == 0)[:10]
    items = build_mc(bank, asked)
    assert len(items) > 100
    assert _accuracy(index, items) >= 0.45  # chance is 0.25


def test_what_an_option_rests_on_is_named_and_cited(package_index) -> None:
    options = ["13:00", "21:00", "07:00", "18:30"]
    found = package_index.score_options(
        "What time do people in Spain usually have dinner?", "ESP", options
    )
    best = max(range(4), key=found.probs.__getitem__)
    assert options[best] == "21:00"
    basis = found.bases[best]
    assert basis is not None and basis.same and basis.answer == "21:00"
    assert basis.ref.startswith("blend:ESP#") and "dinner" in basis.question
    assert found.sources[0]["ref"] == basis.ref
    assert set(found.features[best]) == set(FEATURES) and len(WEIGHTS) == len(FEATURES)


def test_no_evidence_is_said_not_guessed(package_index) -> None:
    options = ["tea", "coffee"]
    unknown = package_index.score_options("What do people drink?", "KEN", options)
    assert not unknown.informative and unknown.probs == [0.5, 0.5]
    far = package_index.score_options(
        "What is the airspeed velocity of an unladen swallow?", "ESP", ["11 m/s", "24 mph"]
    )
    assert not far.informative and "closest question similarity" in far.notes[0]


def test_a_local_language_question_gets_local_answers(package_index) -> None:
    found = package_index.score_options(
        "한국에서 설날에 주로 먹는 음식은 무엇입니까?",
        "KOR",
        ["떡국", "pizza", "tacos"],
        language="ko",
    )
    assert found.informative
    best = max(range(3), key=found.probs.__getitem__)
    assert best == 0 and found.bases[0] is not None and found.bases[0].same


def test_options_do_not_grow_the_index(package_index) -> None:
    known = len(package_index._answers)
    package_index.score_options("What do people eat?", "ESP", ["zzq-made-up dish", "tapas"])
    assert len(package_index._answers) == known


def test_a_turns_second_scoring_of_the_same_options_is_not_recomputed(package_index) -> None:
    from manyshores.evidence.index import KEPT_OPTION_SCORES

    asked = ("What goes with beer in Spain?", "ESP", ["tapas", "kimchi", "sushi"])
    first = package_index.score_options(*asked, language="en")
    assert package_index.score_options(*asked, language="en") is first
    # Another language or other options are scored anew.
    assert package_index.score_options(*asked, language="es") is not first
    assert package_index.score_options(*asked[:2], ["tapas", "kimchi"], language="en") is not first
    for i in range(KEPT_OPTION_SCORES):  # only the latest few are kept
        package_index.score_options(f"What do people eat at {i}?", "ESP", ["tapas", "rice"])
    again = package_index.score_options(*asked, language="en")
    assert again is not first and again.probs == first.probs
