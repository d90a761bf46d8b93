"""Fit how evidence replies are worded and how sure their lead is (`wording.WordingModel`).

    python -m manyshores.evidence.fit_wording          # about 10 min on one core

Question pairs come from the bank's training half (`bank.is_eval_id` false):

- *the same question*: each training question asked, verbatim, in English and in its local
  language, of a bank that holds it; the local wording of the culture that shares its language
  (Spain / Mexico, South Korea / North Korea, the UK's British wording / the US); an English
  rewrite of it (`rewrites`);
- *another question*: each training question asked of a bank without its fold's ids (5 folds
  by id, each with its own question metric): its closest question is a different one.

The match rule of each language group is fitted on them: a logistic regression for English,
small trees for local languages (whose verbatim and paraphrased forms a linear rule cannot
separate from near twins). Calibration: the ranker's trees refitted on four folds score the
fifth (out-of-fold chances of the lead), and an isotonic regression maps them to the share of
right leads, per group. Then the *tuning part* of the evaluation half (`bank.fold_of(id, 3)
== 0`, asked of the training-half bank; the rest of the evaluation half is never read here)
sets each group's threshold (the lowest whose share of `answer` replies to questions that are
not in the bank stays within `MAX_FALSE_ANSWERS`) and the calibration's logit shift.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from manyshores.evidence.bank import PACKAGE_BLEND, AnswerBank, BankQuestion, fold_of, is_eval_id
from manyshores.evidence.culture_questions import bank_maps
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.match import MATCH_FEATURES, group_of
from manyshores.evidence.names import culture_names
from manyshores.evidence.ranker import (
    FEATURES,
    RankerModel,
    TreeSettings,
    context_features,
    fit_trees,
    trees_from_sklearn,
)
from manyshores.evidence.rewrites import rewrite
from manyshores.evidence.similarity import (
    PACKAGE_ANSWERS,
    PACKAGE_VECTORS,
    load_vectors,
    strip_local_names,
    strip_names,
)
from manyshores.evidence.wording import PACKAGE_WORDING, Calibration, GroupRule, WordingModel
from manyshores.textnorm import is_correct

FOLDS = 5
"""Folds of the training half (by id) for the pairs of different questions and calibration."""
TUNE_FOLDS = 3
"""The evaluation half is split by `fold_of(id, TUNE_FOLDS)`: fold 0 tunes, the rest is held
out for measuring."""
MAX_FALSE_ANSWERS = 0.0025
"""Share of tuning questions (none of them in the bank) a group's rule may word `answer`."""
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)
"""Thresholds tried, lowest first."""
SIBLINGS = (("GBR", "USA"), ("USA", "GBR"), ("GBR", "GBR"), ("USA", "USA"), ("ESP", "MEX"),
            ("MEX", "ESP"), ("KOR", "PRK"), ("PRK", "KOR"))  # fmt: skip
"""(culture whose local wording is asked, culture asked about): another wording of the same
question (the UK's British local wording, Spain's Spanish for Mexico...)."""
LOCAL_FEATURES = ("sim", "gap", "chars", "e5", "clash", "lost", "missing", "added", "exact")
"""What the local-language rule reads (the pseudo-translation's cosines and type agreement
told verbatim from paraphrased questions apart less well than they told folds apart)."""
VERBATIM_WEIGHT = {"en": 0.3, "local": 0.3}
"""Weight of a verbatim asking against a reworded one (they are many and easy)."""


@dataclass
class Asked:
    """One question asked of a bank: what the match rule and the calibration learn from."""

    group: str
    """`en` or `local`."""
    qid: str
    """The asked question's id."""
    kind: str
    """`verbatim`, `sibling`, `rewrite` (its own id in the bank) or `other` (not in it)."""
    same: bool
    """The closest bank question is the asked one."""
    row: np.ndarray
    """`MATCH_FEATURES`."""
    x: np.ndarray
    """The ranker's features of every candidate, in the ranker's order."""
    right: np.ndarray
    """Which candidates are right."""
    own: np.ndarray
    """Which candidates the closest question was given."""
    close: bool
    """The closest question passes the similarity threshold."""


def row_answers(q: BankQuestion) -> list[str]:
    return [a for ann in q.annotations for a in (*ann.en_answers, *ann.answers)]


def ask(
    index: EvidenceIndex, culture: str, text: str, language: str, q: BankQuestion, kind: str
) -> Asked | None:
    """`text` asked of `index` about `culture`, judged against `q`'s answers."""
    if not text.strip():
        return None
    sims, lang, vec = index.match(text, culture, language)
    ev = index.rank_similar(culture, sims, lang, vec, k=10_000, with_sources=False, question=text)
    if not ev.candidates:
        return None
    answers = row_answers(q)
    p = index.model.params
    return Asked(
        group=group_of(lang),
        qid=q.id,
        kind=kind,
        same=ev.matched == f"blend:{culture}#{q.id}",
        row=np.asarray([ev.match_features[f] for f in MATCH_FEATURES]),
        x=np.asarray([[c.features[f] for f in FEATURES] for c in ev.candidates]),
        right=np.asarray([is_correct(c.text, answers) for c in ev.candidates]),
        own=np.asarray([ev.matched in c.refs for c in ev.candidates]),
        close=ev.similarity >= (p.min_similarity if lang == "en" else p.min_similarity_local),
    )


def ask_all(index: EvidenceIndex, ids: set[str], kind: str, bank: AnswerBank) -> list[Asked]:
    """Every question of `ids`, in English and in its local language."""
    out = []
    for culture in index.cultures():
        for q in bank.questions.get(culture, []):
            if q.id not in ids:
                continue
            askings = [(q.en_question, "en")]
            if q.language != "en":
                askings.append((q.question, q.language))
            for text, lang in askings:
                found = ask(index, culture, text, lang, q, kind)
                if found is not None:
                    out.append(found)
    return out


def ask_reworded(index: EvidenceIndex, ids: set[str], bank: AnswerBank) -> list[Asked]:
    """The siblings' local wordings and an English rewrite of every question of `ids`."""
    out = []
    rng = random.Random(0)
    for src, dst in SIBLINGS:
        if src not in bank.questions or dst not in bank.questions:
            continue
        rows = {q.id: q for q in bank.questions[dst]}
        for q in bank.questions[src]:
            if q.id in ids and q.id in rows:
                names = culture_names(src, q.name)
                text = (strip_names if q.language == "en" else strip_local_names)(q.question, names)
                found = ask(index, dst, text, rows[q.id].language, rows[q.id], "sibling")
                if found is not None:
                    out.append(found)
    for culture in index.cultures():
        names = culture_names(culture, bank.questions[culture][0].name)
        for q in bank.questions[culture]:
            if q.id in ids:
                text = rewrite(strip_names(q.en_question, names), rng)
                found = ask(index, culture, text, "en", q, "rewrite")
                if found is not None:
                    out.append(found)
    return out


def make_index(full: AnswerBank, ids: set[str], model: RankerModel) -> EvidenceIndex:
    """An index of `ids` only, with the question metric fitted on them, worded by no rule."""
    bank = full.restricted(ids)
    vectors, answers = load_vectors(PACKAGE_VECTORS), load_vectors(PACKAGE_ANSWERS)
    index = EvidenceIndex(bank, model, vectors, answers, *bank_maps(bank, vectors, answers))
    index.wording = None  # the ranker's own order: what the rule and calibration learn from
    return index


def fit_group_rule(group: str, asked: Sequence[Asked]) -> GroupRule:
    """The match rule of `group` (threshold set later)."""
    mine = [a for a in asked if a.group == group]
    y = np.asarray([a.same for a in mine])
    verbatim = np.asarray([a.kind == "verbatim" and a.same for a in mine])
    # Balanced classes; verbatim askings weigh less (many and easy).
    w = np.where(y, 0.5 / y.mean(), 0.5 / (1 - y.mean())) * np.where(
        verbatim, VERBATIM_WEIGHT[group], 1.0
    )
    names = list(MATCH_FEATURES) if group == "en" else list(LOCAL_FEATURES)
    cols = [MATCH_FEATURES.index(f) for f in names]
    x = np.stack([a.row[cols] for a in mine])
    if group == "en":
        from sklearn.linear_model import LogisticRegression

        mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
        lr = LogisticRegression(max_iter=3000).fit((x - mean) / scale, y, w)
        return GroupRule(
            names, 1.0, lr.coef_[0].tolist(), float(lr.intercept_[0]), mean.tolist(), scale.tolist()
        )
    from sklearn.ensemble import HistGradientBoostingClassifier

    gbm = HistGradientBoostingClassifier(
        max_iter=100, max_leaf_nodes=8, min_samples_leaf=40, learning_rate=0.1, random_state=0
    ).fit(x, y, sample_weight=w)
    return GroupRule(names, 1.0, trees=trees_from_sklearn(gbm))


def lead_of(a: Asked, z: np.ndarray) -> tuple[float, bool]:
    """(the trees' chance of the lead, the lead is right) for raw tree scores `z`."""
    i = int(np.argmax(z))
    return float(1 / (1 + np.exp(-z[i]))), bool(a.right[i])


def shipped_lead(ranker: RankerModel, a: Asked) -> tuple[float, bool]:
    """(the shipped trees' chance of the lead, the lead is right)."""
    chances = ranker.chances(a.x)
    assert chances is not None
    i = int(np.argmax(chances))
    return float(chances[i]), bool(a.right[i])


def out_of_fold_leads(
    others: Sequence[Asked], settings: TreeSettings
) -> list[tuple[str, float, bool]]:
    """(group, chance, right) of every usable lead, each scored by trees fitted on the other
    folds."""
    out = []
    for f in range(FOLDS):
        trees = fit_trees([(a.x, a.right) for a in others if fold_of(a.qid, FOLDS) != f], settings)
        for a in others:
            if fold_of(a.qid, FOLDS) == f and a.close:
                chance, right = lead_of(a, trees.predict(context_features(a.x)))
                out.append((a.group, chance, right))
    return out


def isotonic(points: Sequence[tuple[float, bool]]) -> Calibration:
    from sklearn.isotonic import IsotonicRegression

    x = np.asarray([c for c, _ in points])
    y = np.asarray([r for _, r in points], dtype=np.float64)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
    return Calibration(iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist())


def best_shift(cal: Calibration, points: Sequence[tuple[float, bool]]) -> float:
    """The logit shift that minimises log loss on `points` (a grid of 0.01)."""
    base = np.asarray([Calibration(cal.x, cal.y)(c) for c, _ in points]).clip(1e-4, 1 - 1e-4)
    y = np.asarray([r for _, r in points], dtype=np.float64)
    logit = np.log(base / (1 - base))

    def loss(s: float) -> float:
        p = 1 / (1 + np.exp(-(logit + s)))
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    return float(min(np.round(np.arange(-1.5, 1.501, 0.01), 2), key=loss))


def expected_calibration_error(
    conf: Sequence[float], right: Sequence[bool], bins: int = 10
) -> float:
    """Over `bins` equal-width bins of confidence: the share-weighted gap between the mean
    confidence and the share right."""
    c = np.asarray(conf, dtype=np.float64)
    r = np.asarray(right, dtype=np.float64)
    if not len(c):
        return 0.0
    which = np.minimum((c * bins).astype(int), bins - 1)
    return float(
        sum((which == b).mean() * abs(c[which == b].mean() - r[which == b].mean())
            for b in range(bins) if (which == b).any())
    )  # fmt: skip


def choose_threshold(
    rule: GroupRule, tuning: Sequence[Asked], reworded: Sequence[Asked]
) -> tuple[float, list[dict[str, float]]]:
    """The lowest of `THRESHOLDS` whose share of `answer` among tuning questions (none in the
    bank) is within `MAX_FALSE_ANSWERS`, and the table it was chosen from."""
    table = []
    for t in THRESHOLDS:
        false = [a for a in tuning if rule.probability(a.row) >= t]
        found = [a.same and rule.probability(a.row) >= t for a in reworded]
        table.append(
            {
                "threshold": t,
                "false_answer_share": round(len(false) / max(len(tuning), 1), 4),
                "false_answers_right": round(
                    float(
                        np.mean(
                            [a.right[np.argmax(a.own)] if a.own.any() else False for a in false]
                        )
                    )
                    if false
                    else 0.0,
                    4,
                ),  # fmt: skip
                "reworded_found": round(float(np.mean(found)) if found else 0.0, 4),
            }
        )
    ok = [r["threshold"] for r in table if r["false_answer_share"] <= MAX_FALSE_ANSWERS]
    return (min(ok) if ok else THRESHOLDS[-1]), table


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=PACKAGE_BLEND, help="BLEnD directory")
    ap.add_argument("--out", type=Path, default=PACKAGE_WORDING, help="file written")
    args = ap.parse_args(argv)
    started = time.perf_counter()

    def say(what: str) -> None:
        print(f"{what} ({time.perf_counter() - started:.0f}s)", file=sys.stderr)

    full = AnswerBank.from_dir(args.data)
    ranker = RankerModel.load()
    ids = {q.id for qs in full.questions.values() for q in qs}
    train = {i for i in ids if not is_eval_id(i)}
    tune = {i for i in ids - train if fold_of(i, TUNE_FOLDS) == 0}
    others: list[Asked] = []
    for f in range(FOLDS):
        inside = {i for i in train if fold_of(i, FOLDS) != f}
        others += ask_all(make_index(full, inside, ranker), train - inside, "other", full)
        say(f"fold {f}: {len(others)} questions asked of a bank without them")
    index = make_index(full, train, ranker)
    same = ask_all(index, train, "verbatim", full)
    reworded = ask_reworded(index, train, full)
    say(f"{len(same)} verbatim, {len(reworded)} reworded questions asked of a bank with them")
    tuning = ask_all(index, tune, "other", full)
    say(f"{len(tuning)} tuning questions")
    pairs = [*others, *same, *reworded]
    rules, tables, calibration, shifts = {}, {}, {}, {}
    settings = TreeSettings(**ranker.meta.get("trees", {}))
    oof = out_of_fold_leads(others, settings)
    say("out-of-fold leads scored")
    measured: dict[str, dict[str, float]] = {}
    for group in ("en", "local"):
        rule = fit_group_rule(group, pairs)
        mine_tuning = [a for a in tuning if a.group == group]
        rule.threshold, tables[group] = choose_threshold(
            rule, mine_tuning, [a for a in reworded if a.group == group]
        )
        rules[group] = rule
        cal = isotonic([(c, r) for g, c, r in oof if g == group])
        points = [p for p in (shipped_lead(ranker, a) for a in mine_tuning if a.close)
                  if p[0] >= ranker.params.min_lead_chance]  # fmt: skip
        cal.shift = best_shift(cal, points)
        calibration[group], shifts[group] = cal, cal.shift
        matched = [a for a in [*same, *reworded] if a.group == group and a.same
                   and rule.probability(a.row) >= rule.threshold and a.own.any()]  # fmt: skip
        measured[group] = {
            "same_right": round(float(np.mean([a.right[np.argmax(a.own)] for a in matched])), 4)
            if matched else 0.95,
            "tuning_ece": round(expected_calibration_error([cal(c) for c, _ in points],
                                                           [r for _, r in points]), 4),
            "tuning_leads": len(points),
        }  # fmt: skip
        say(f"{group}: threshold {rule.threshold}, shift {cal.shift}, {measured[group]}")
    model = WordingModel(
        rules=rules,
        calibration=calibration,
        same_right={g: m["same_right"] for g, m in measured.items()},
        meta={
            "bank": full.fingerprint(),
            "ranker": ranker.meta.get("data"),
            "pairs": {k: sum(a.kind == k for a in pairs) for k in ("other", "verbatim", "sibling", "rewrite")},
            "tuning_questions": len(tuning),
            "thresholds": tables,
            "measured": measured,
        },
    )  # fmt: skip
    model.save(args.out)
    print(json.dumps({"thresholds": {g: r.threshold for g, r in rules.items()}, "shifts": shifts,
                      "measured": measured}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
