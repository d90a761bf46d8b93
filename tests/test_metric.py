"""The question metric learnt from the answers: overlap counting, fitting, storage, matching."""

from __future__ import annotations

import numpy as np
import pytest

from manyshores.errors import InvalidInputError
from manyshores.evidence.bank import AnswerBank, parse_row
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.metric import (
    answer_overlap,
    answer_targets,
    fit_answer_map,
    fit_metric,
    load_answer_map,
    load_metric,
    project,
    save_metric,
)
from manyshores.evidence.ranker import RankerModel
from manyshores.textnorm import is_correct


def _row(qid: str, culture: str, question: str, answers: list[tuple[str, int]]) -> dict:
    return {"id": qid, "culture": culture, "blend_name": culture, "language": "en",
            "question": question, "en_question": question,
            "annotations": [{"answers": [a], "en_answers": [a], "count": n} for a, n in answers]}  # fmt: skip


def _bank(rows: list[dict]) -> AnswerBank:
    return AnswerBank.from_rows(parse_row(r, "t") for r in rows)


def test_overlap_is_the_share_of_annotators_whose_answer_is_right_elsewhere():
    bank = _bank(
        [
            _row("sport", "USA", "Most popular sport?", [("American football", 3), ("tennis", 1)]),
            _row("watch", "USA", "Sport people watch?", [("football", 2)]),
            _row("food", "USA", "Breakfast food?", [("eggs", 2)]),
            _row("sport", "GBR", "Most popular sport?", [("football", 4)]),
            _row("watch", "GBR", "Sport people watch?", [("football", 1), ("cricket", 1)]),
        ]
    )
    ids = ["food", "sport", "watch"]
    r = answer_overlap(bank, ids)
    # USA: "American football" contains "football" (right for watch); "football" is not
    # "American football" (not right for sport). GBR: football is right both ways.
    assert r[2, 1] == pytest.approx((3 / 4 + 4 / 4) / 2)
    assert r[1, 2] == pytest.approx((0 + 1 / 2) / 2)
    assert r[0].sum() == 0 and r[:, 0].sum() == 0 and np.diag(r).sum() == 0
    # The scorer's own judgement of the two USA answers.
    assert is_correct("American football", ["football"])
    assert not is_correct("football", ["American football"])


def test_fitted_metric_brings_answer_sharing_questions_together():
    rng = np.random.default_rng(0)
    n, d = 40, 16
    # Pairs (2k, 2k+1) share their answers; MiniLM-like vectors hide that in two dimensions of
    # sixteen, the rest being noise that pairs other questions.
    pair_code = rng.normal(size=(n // 2, 2))
    x = rng.normal(size=(n, d))
    x[:, :2] = 0.8 * np.repeat(pair_code, 2, axis=0)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    overlap = np.zeros((n, n))
    for k in range(0, n, 2):
        overlap[k, k + 1] = overlap[k + 1, k] = 1.0

    def partner_found(z: np.ndarray) -> float:
        s = z @ z.T
        np.fill_diagonal(s, -np.inf)
        return float(np.mean(s.argmax(1) == (np.arange(n) ^ 1)))

    w = fit_metric(x.astype(np.float32), overlap, pull=0.001, steps=300)
    assert w.shape == (d, d)
    assert partner_found(project(x.astype(np.float32), w)) > partner_found(x) + 0.2


def test_metric_file_round_trip_and_bad_files(tmp_path):
    assert load_metric(tmp_path / "absent.safetensors") is None
    w = np.eye(4, dtype=np.float32) * 2
    save_metric(tmp_path / "m.safetensors", w, "bank-a")
    assert np.array_equal(load_metric(tmp_path / "m.safetensors"), w)
    assert load_answer_map(tmp_path / "m.safetensors") is None  # none was stored
    save_metric(tmp_path / "both.safetensors", w, "bank-a", 3 * w)
    assert np.array_equal(load_answer_map(tmp_path / "both.safetensors", "bank-a"), 3 * w)
    assert np.array_equal(load_metric(tmp_path / "m.safetensors", bank="bank-a"), w)
    assert load_metric(tmp_path / "m.safetensors", bank="bank-b") is None  # fitted elsewhere
    (tmp_path / "bad.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(InvalidInputError, match="not a readable question metric"):
        load_metric(tmp_path / "bad.safetensors")
    save_metric(tmp_path / "flat.safetensors", np.ones((2, 3), dtype=np.float32), "bank-a")
    with pytest.raises(InvalidInputError, match="square"):
        load_metric(tmp_path / "flat.safetensors")
    with pytest.raises(InvalidInputError, match="n vectors"):
        fit_metric(np.ones((3, 4), dtype=np.float32), np.zeros((2, 2)))
    # Nothing to learn from (no question's answers fit another's): the identity, never NaN.
    assert np.array_equal(fit_metric(np.eye(3, dtype=np.float32), np.zeros((3, 3))), np.eye(3))


def test_answer_map_learns_which_kind_of_answer_a_question_takes():
    bank = _bank(
        [
            _row("sport", "USA", "Most popular sport?", [("American football", 3), ("tennis", 1)]),
            _row("sport", "GBR", "Most popular sport?", [("football", 4)]),
            _row("city", "USA", "Biggest city?", [("New York", 2)]),
        ]
    )
    keys = ["American football", "New York", "football", "tennis"]
    t = answer_targets(bank, ["city", "sport"], keys)
    assert t[0].tolist() == [0, 1, 0, 0]
    assert t[1] == pytest.approx([3 / 8, 0, 4 / 8, 1 / 8])  # two cultures' shares, normalised
    # Questions and answers on random axes: the map must learn to carry each question to its
    # answers, which its own cosine with them does not show.
    rng = np.random.default_rng(1)
    n, d = 30, 16
    questions = rng.normal(size=(n, d)).astype(np.float32)
    answers = rng.normal(size=(n, d)).astype(np.float32)
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    answers /= np.linalg.norm(answers, axis=1, keepdims=True)
    target = np.eye(n, dtype=np.float32)

    def found(q: np.ndarray) -> float:
        return float(np.mean((q @ answers.T).argmax(1) == np.arange(n)))

    m = fit_answer_map(questions, answers, target, pull=0.0001, steps=300)
    assert found(project(questions, m)) > found(questions) + 0.3
    with pytest.raises(InvalidInputError, match="n × m"):
        fit_answer_map(questions, answers, target[:, :3])


def _unit(*xs: float) -> np.ndarray:
    v = np.zeros(384, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


def test_index_matches_questions_through_the_metric():
    rows = [
        _row("city", "USA", "Which city hosts festivals?", [("Austin", 2)]),
        _row("fest", "USA", "Which festival is famous?", [("Mardi Gras", 2)]),
    ]
    vectors = {
        "Which city hosts festivals?": _unit(1, 0.2),
        "Which festival is famous?": _unit(0.2, 1),
    }
    asked = "Which festival do people enjoy?"
    vectors[asked] = _unit(0.9, 0.5)  # closer to the city question by MiniLM's cosine
    bank = _bank(rows)
    plain = EvidenceIndex(bank, RankerModel.load(), vectors, {})
    sims, _ = plain.similarities(asked, "USA", "en")
    assert sims.argmax() == 0
    same = EvidenceIndex(bank, RankerModel.load(), vectors, {}, np.eye(384, dtype=np.float32))
    assert np.allclose(same.similarities(asked, "USA", "en")[0], sims, atol=1e-6)
    # A metric that weighs the second axis more (as one learnt from these answers would).
    w = np.eye(384, dtype=np.float32)
    w[0, 0] = 0.3
    mapped = EvidenceIndex(bank, RankerModel.load(), vectors, {}, w)
    assert mapped.similarities(asked, "USA", "en")[0].argmax() == 1


def test_shipped_metric_belongs_to_the_shipped_bank():
    """The package's metric is used with the package's bank; a bank without some ids gets a
    metric fitted on its own questions (the left-out ones would stand outside the map)."""
    shipped = EvidenceIndex.from_package()
    assert shipped.metric is not None and shipped.answer_map is not None
    assert np.array_equal(shipped.metric, load_metric())
    assert np.array_equal(shipped.answer_map, load_answer_map())
    some = sorted({q.id for q in shipped.bank.questions["MEX"]})[:40]
    without = EvidenceIndex.from_package(exclude_ids=some)
    assert not any(q.id in some for qs in without.bank.questions.values() for q in qs)
    assert without.metric is not None and without.metric.shape == shipped.metric.shape
    assert not np.allclose(without.metric, shipped.metric)
    assert without.answer_map is not None and not np.allclose(
        without.answer_map, shipped.answer_map
    )
    assert load_metric(bank=without.bank.fingerprint()) is None


def test_type_fit_feature_goes_through_the_answer_map():
    rows = [_row("fest", "USA", "Which festival is famous?", [("Mardi Gras", 2), ("Austin", 1)])]
    vectors = {"Which festival is famous?": _unit(1), "Which festival do people enjoy?": _unit(1)}
    answers = {"Mardi Gras": _unit(0, 1), "Austin": _unit(1)}
    bank = _bank(rows)

    def fit_of(answer_map: np.ndarray | None) -> dict[str, float]:
        index = EvidenceIndex(bank, RankerModel.load(), vectors, answers, None, answer_map)
        ev = index.rank("Which festival do people enjoy?", "USA", language="en", k=5)
        return {c.english: c.features["answer_fit"] for c in ev.candidates}

    plain = fit_of(None)
    assert plain["Austin"] > plain["Mardi Gras"]
    swap = np.eye(384, dtype=np.float32)
    swap[[0, 1]] = swap[[1, 0]]  # questions of the first axis take answers of the second
    mapped = fit_of(swap)
    assert mapped["Mardi Gras"] > mapped["Austin"]
