"""What an evidence reply says was matched, which answer leads it, and how sure it is: the match
rule, the same-question lead and the calibrated confidence, on the shipped bank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from manyshores.errors import InvalidInputError
from manyshores.eval.metrics.confidence import (
    Judged,
    expected_calibration_error,
    plot_reliability,
    wording_report,
)
from manyshores.evidence.bank import AnswerBank, BankQuestion
from manyshores.evidence.candidates import Gathered
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.lead import LIKELY_SAME, decide, own_answers
from manyshores.evidence.match import ContrastLexicon, clashes, content_words, lost_contrasts
from manyshores.evidence.wording import PACKAGE_WORDING, Calibration, WordingModel
from manyshores.graph.trace import TraceStep, summarize_turns
from manyshores.textnorm import is_correct

PARAPHRASES = Path(__file__).parent / "data" / "evidence" / "paraphrases.json"
MORE_LOCAL = Path(__file__).parent / "data" / "evidence" / "paraphrases_local_more.json"
"""25 more local-language rewordings, written after the rule was fitted and never looked at
while fitting it."""


@pytest.fixture(scope="module")
def index() -> EvidenceIndex:
    return EvidenceIndex.from_package()


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str], BankQuestion]:
    return {(q.culture, q.id): q for qs in AnswerBank.from_dir().questions.values() for q in qs}


def _own_top(q: BankQuestion) -> list[str]:
    top = q.annotations[0]
    return [*top.answers, *top.en_answers]


def _leads_with_its_own_answer(index, q, text, language) -> tuple[bool, str]:
    ev = index.rank(text, q.culture, language=language)
    lead = ev.candidates[0].text if ev.candidates else ""
    return ev.wording == "answer" and is_correct(lead, _own_top(q)), f"{ev.wording}: {lead}"


# --------------------------------------------------------------------------- the same question
def test_bank_questions_asked_verbatim_are_answered_with_their_own_top_answer(index, rows):
    # Every 7th shipped row of every culture, in English and in its own language.
    picked = [q for i, q in enumerate(sorted(rows.values(), key=lambda q: q.ref)) if i % 7 == 0]
    results = []
    for q in picked[:160]:
        results.append(_leads_with_its_own_answer(index, q, q.en_question, "en")[0])
        if q.language != "en" and q.question.strip():
            results.append(_leads_with_its_own_answer(index, q, q.question, q.language)[0])
    assert len(results) > 250
    assert np.mean(results) >= 0.9, np.mean(results)


def test_bank_questions_asked_in_other_words_lead_with_their_own_top_answer(index, rows):
    cases = json.loads(PARAPHRASES.read_text(encoding="utf-8"))
    assert len(cases) >= 25 and len({c["language"] for c in cases}) >= 6
    cases += json.loads(MORE_LOCAL.read_text(encoding="utf-8"))
    results = {}
    for case in cases:
        q = rows[(case["culture"], case["id"])]
        results[case["text"]] = _leads_with_its_own_answer(index, q, case["text"], case["language"])
    english = [
        ok for (ok, _), c in zip(results.values(), cases, strict=True) if c["language"] == "en"
    ]
    assert np.mean(english) >= 0.9, {t: why for t, (ok, why) in results.items() if not ok}
    # Local-language rewordings are found less often: the rule stays strict there, since the
    # local near twins it cannot yet tell apart would otherwise be stated as this question.
    local = [
        ok for (ok, _), c in zip(results.values(), cases, strict=True) if c["language"] != "en"
    ]
    assert len(local) == 39 and np.mean(local) >= 0.15, {
        t: why for t, (ok, why) in results.items() if not ok
    }
    # Worded `related` or not, the reworded question's own top answer leads.
    led = [why.split(": ", 1)[1] for _, why in results.values()]
    own = [
        is_correct(lead, _own_top(rows[(c["culture"], c["id"])]))
        for lead, c in zip(led, cases, strict=True)
    ]
    english_own = [ok for ok, c in zip(own, cases, strict=True) if c["language"] == "en"]
    local_own = [ok for ok, c in zip(own, cases, strict=True) if c["language"] != "en"]
    assert np.mean(english_own) >= 0.9 and np.mean(local_own) >= 0.7, (english_own, local_own)


def test_a_probable_match_leads_with_its_own_answer_worded_as_related(index):
    # People answered "What seasoning is indispensable in cooking in US?" salt (4), pepper (2);
    # the match rule is not sure enough to call this rewording the same question.
    ev = index.rank("Which seasoning can no American kitchen do without?", "USA")
    assert ev.wording == "related" and ev.matched.endswith("New-ch-08")
    assert ev.candidates[0].english == "salt"
    assert ev.candidates[0].question.startswith("What seasoning is indispensable")


def test_the_same_question_wins_over_a_neighbours_more_common_answer(index):
    # Iran's longest-night question: its people said pomegranate; the ranker alone led with
    # kebab (another celebration's food, more annotators elsewhere).
    ev = index.rank(
        "What is usually eaten during the celebration of the longest night of the year in Iran?",
        "IRN",
    )
    assert ev.wording == "answer" and ev.candidates[0].english == "pomegranate"
    ev = index.rank("What is the most popular fruit in Spain?", "ESP")
    assert ev.wording == "answer" and ev.candidates[0].english == "orange"


@pytest.mark.parametrize(
    "asked, twin",
    [
        ("At what time do most people finish work in Spain?", "Ne-ar-17"),  # bank: start work
        ("What sports do women like to play the most in Mexico?", "Gu-ch-06"),  # bank: men
        ("What drink is usually offered at funerals in Greece?", "New-gr-88"),  # bank: weddings
    ],
)
def test_a_near_twin_question_is_not_worded_as_this_question(index, rows, asked, twin):
    culture = {"Spain": "ESP", "Mexico": "MEX", "Greece": "GRC"}[asked.split(" in ")[-1][:-1]]
    own_id = next(
        i for (c, i), q in rows.items() if c == culture and q.en_question.startswith(asked[:-1])
    )
    ev = index.rank(asked, culture, exclude_ids=[own_id])  # the asked question is not in the bank
    assert ev.matched.endswith(twin) or ev.wording != "answer"
    assert ev.wording != "answer", ev.match_features


def test_an_off_topic_question_gets_no_wording_and_no_confidence(index):
    ev = index.rank("How do I reset my router password?", "USA")
    assert not ev.usable and ev.wording == "none" and ev.confidence is None


def test_replies_carry_a_confidence_in_the_unit_interval(index, rows):
    for q in list(rows.values())[::200]:
        ev = index.rank(q.en_question, q.culture, exclude_ids=[q.id])
        if ev.usable:
            assert 0.0 <= ev.confidence <= 1.0 and ev.wording in ("answer", "related")
            assert ev.wording == "related" or ev.matched != q.ref


# --------------------------------------------------------------------------- the shipped model
def test_the_shipped_model_is_monotone_and_fitted_for_this_bank():
    model = WordingModel.load()
    assert model is not None and set(model.rules) == {"en", "local"}
    assert model.meta["bank"] == AnswerBank.from_dir().fingerprint()
    chances = np.linspace(0, 1, 101)
    for group in ("en", "local"):
        conf = [model.confidence(float(c), group) for c in chances]
        assert all(0.0 <= v <= 1.0 for v in conf)
        assert all(b >= a for a, b in zip(conf, conf[1:], strict=False))
        assert conf[-1] > conf[0]
        # A lead that is the matched question's own answer is surer than an unmatched one.
        assert model.confidence(0.3, group, match=0.95) > model.confidence(0.3, group)
        assert 0.5 <= model.rules[group].threshold < 1.0


def test_a_broken_wording_file_gives_a_clear_error(tmp_path):
    bad = tmp_path / "wording.json"
    bad.write_text(json.dumps({"rules": {"en": {"features": ["nope"], "threshold": 0.5}}}))
    with pytest.raises(InvalidInputError, match="fit_wording"):
        WordingModel.load(bad)
    raw = json.loads(PACKAGE_WORDING.read_text())
    raw["calibration"]["en"]["y"] = list(reversed(raw["calibration"]["en"]["y"]))
    bad.write_text(json.dumps(raw))
    with pytest.raises(InvalidInputError, match="must not fall"):
        WordingModel.load(bad)
    assert WordingModel.load(tmp_path / "missing.json") is None


def test_calibration_maps_and_shifts_the_rankers_chance():
    cal = Calibration([0.1, 0.5, 0.9], [0.05, 0.3, 0.7])
    assert cal(0.5) == pytest.approx(0.3)
    assert cal(0.0) == pytest.approx(0.05) and cal(1.0) == pytest.approx(0.7)  # clipped
    assert Calibration(cal.x, cal.y, shift=0.5)(0.5) > cal(0.5)


# --------------------------------------------------------------------------- the rules' parts
def test_contrast_words_tell_near_twins_from_paraphrases():
    start = content_words("At what time do most people start work?", "en")
    finish = content_words("At what time do most people finish work?", "en")
    begin = content_words("When do people usually begin working?", "en")
    assert clashes(finish, start) == 1 and lost_contrasts(finish, start) == 1
    assert clashes(begin, start) == 0 and lost_contrasts(begin, start) == 0
    kids = content_words("What do kids like to eat?", "en")
    assert clashes(kids, content_words("What do children like to eat?", "en")) == 0
    lexicon = ContrastLexicon.fit(
        [
            (["아침", "먹"], ["breakf"]),
            (["아침", "운동"], ["breakf"]),
            (["점심", "먹"], ["lunch"]),
            (["점심", "학교"], ["lunch"]),
        ]  # fmt: skip
    )
    assert lexicon.english(["아침"]) == {"breakf"}
    assert lost_contrasts(["점심", "먹"], ["breakf"], lexicon) == 1
    assert lost_contrasts(["아침", "먹"], ["breakf"], lexicon) == 0


def _gathered(hits: dict[int, tuple[int, int]]) -> Gathered:
    return Gathered(set(), "x", "x", min(hits), hits)


def test_own_answers_lead_unless_the_ranker_is_much_surer():
    model = WordingModel.load()
    assert model is not None
    # Candidate 0 comes from a neighbour; 1 and 2 are the closest question's 2nd and 1st answers.
    cands = [_gathered({2: (5, 0)}), _gathered({0: (2, 1)}), _gathered({0: (4, 0)})]
    assert own_answers(cands) == [2, 1]
    probs = np.asarray([0.5, 0.2, 0.3])
    lead = decide(cands, probs, np.asarray([0.4, 0.2, 0.3]), model, "en", match=0.99)
    assert lead.order == [2, 1, 0] and lead.wording == "answer" and lead.matched
    lead = decide(cands, probs, np.asarray([0.99, 0.01, 0.01]), model, "en", match=0.99)
    assert lead.order[0] == 0 and lead.wording == "related"  # the ranker is confident otherwise
    lead = decide(cands, probs, np.asarray([0.4, 0.2, 0.3]), model, "en", match=0.01)
    assert lead.order == [0, 2, 1] and lead.wording == "related" and not lead.matched
    assert 0 <= lead.confidence <= 1
    # Probably the same question, below the rule's threshold: its own answers lead, worded as
    # the related question they answer.
    assert model.rules["en"].threshold > LIKELY_SAME
    lead = decide(cands, probs, np.asarray([0.4, 0.2, 0.3]), model, "en", match=LIKELY_SAME)
    assert lead.order == [2, 1, 0] and lead.wording == "related" and not lead.matched


# --------------------------------------------------------------------------- measuring
def test_calibration_error_and_the_reliability_diagram(tmp_path):
    conf = [0.1] * 10 + [0.9] * 10
    assert expected_calibration_error(conf, [True] + [False] * 9 + [True] * 9 + [False]) == 0.0
    assert expected_calibration_error([0.9] * 4, [False] * 4) == pytest.approx(0.9)
    judged = [Judged("en", "answer", 0.9, True), Judged("en", "related", 0.2, False),
              Judged("en", "related", 0.3, True, named=False), Judged("en", "none", None, False),
              Judged("local", "related", 0.5, True)]  # fmt: skip
    report = wording_report(judged)
    assert report["en"]["worded"] == {"answer": 1, "related": 2, "none": 1}
    assert report["en"]["answer_right"] == 1.0 and report["en"]["related_named"] == 0.5
    assert sum(b["n"] for b in report["en"]["bins"]) == 3  # replies that lead with an answer
    png = plot_reliability(report, tmp_path / "reliability.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_trace_summary_shows_the_wording_and_confidence():
    record = {"culture": "ESP", "usable": True, "wording": "answer", "confidence": 0.93,
              "candidates": [{"text": "naranja", "english": "orange", "score": 0.4}]}  # fmt: skip
    steps = [
        TraceStep(0, 1, "retrieve", 0.01, {}, {"evidence": [record]}, "ck", None),
        TraceStep(
            1,
            1,
            "aggregate",
            0.01,
            {},
            {"answer": "…", "wording": "answer", "confidence": 0.93},
            "ck",
            None,
        ),  # fmt: skip
    ]
    (summary,) = summarize_turns(steps)
    assert summary.wording == "answer" and summary.confidence == 0.93
    assert "evidence ESP: orange (0.40) [answer, confidence 0.93]" in summary.sources


def test_every_eval_blend_prediction_line_carries_wording_and_confidence(tmp_path):
    from manyshores.eval.datasets.blend import BlendQuestion
    from manyshores.eval.runners.blend_graph import part_of, run_graph, score_graph

    questions = [
        BlendQuestion("Al-en-04", "ESP", "What is the most popular fruit?", "¿Fruta?", ("orange",)),
        BlendQuestion("Ne-ar-18", "ESP", "When do people finish work?", "¿Cuándo?", ("19:00",)),
    ]
    replies = {
        "What is the most popular fruit?": {"answer": "People in Spain answered this question: "
            "orange [1].", "short": "orange", "answers": ["orange"], "wording": "answer",
            "confidence": 0.97},
        "When do people finish work?": {"answer": "I have no answers to exactly this for Spain. "
            "Asked “When do people start work?”, people there most often said 09:00 [1].",
            "short": "09:00", "answers": ["09:00"], "wording": "related", "confidence": 0.3},
    }  # fmt: skip
    out = tmp_path / "pred.jsonl"
    run_graph(questions, ["en"], lambda text: replies[text], out, progress=False)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(p["wording"], p["confidence"]) for p in lines] == [("answer", 0.97), ("related", 0.3)]
    report = score_graph(lines, questions, lambda text: "en")
    every = report["wording"]["all"]["en"]
    assert every["worded"] == {"answer": 1, "related": 1, "none": 0}
    assert every["answer_right"] == 1.0 and every["related_right"] == 0.0
    assert every["related_named"] == 1.0
    assert every["ece"] == pytest.approx((0.03 + 0.3) / 2)
    assert {part_of(q.id) for q in questions} <= set(report["wording"])
