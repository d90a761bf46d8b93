"""Refit the ranker (and the shipped question vectors) on the training half of the question ids.

    python -m manyshores.evidence.fit                 # CV over settings, fit, write ranker.json
    python -m manyshores.evidence.fit --vectors       # also re-embed the shipped questions

Only training ids (`bank.is_eval_id` false) are used: each training question is asked of a bank
of the other folds' ids, matched through a question metric fitted on that bank
(`metric.fit_metric`), so features look as they will for a new question. Settings
are chosen by question-fold cross-validation (folds by id, the same in every culture) on the
lead answer's accuracy; the model is then refitted on every training question. Both scores are
fitted and stored: the tree ensemble (used) and the linear weights (the fallback, and the
reference the trees are compared with). The shipped question metric is fitted on every
shipped id: the bank a new question is asked of.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from manyshores.evidence.bank import (
    PACKAGE_BLEND,
    AnswerBank,
    BankQuestion,
    fold_of,
    is_eval_id,
)
from manyshores.evidence.index import PACKAGE_NAMES, EvidenceIndex, bank_maps, culture_names
from manyshores.evidence.metric import PACKAGE_METRIC, answer_key, save_metric
from manyshores.evidence.multilingual import PACKAGE_E5, embed_multilingual
from manyshores.evidence.ranker import (
    FEATURES,
    PACKAGE_WEIGHTS,
    RankerModel,
    RankerParams,
    TreeSettings,
    context_features,
    fit_trees,
    fit_weights,
)
from manyshores.evidence.similarity import (
    PACKAGE_ANSWERS,
    PACKAGE_VECTORS,
    embed_texts,
    load_vectors,
    save_vectors,
    strip_local_names,
    strip_names,
)
from manyshores.textnorm import is_correct

LANGUAGES = ("en", "local")
METRIC_FILE = PACKAGE_METRIC.name
"""The question metric is written beside the ranker's weights."""
OFF_TOPIC = (
    "How do I fix my bicycle chain?",
    "What is the derivative of x squared?",
    "How many bytes are in a kilobyte?",
    "Explain how a transistor works.",
    "What is the boiling point of mercury?",
    "How do I reset my router password?",
    "Write a haiku about the ocean.",
    "What is the capital of Australia?",
    "How far is the Moon from the Earth?",
    "Why is the sky blue?",
    "How do I sort a list in Python?",
    "What causes earthquakes?",
)
"""Questions no everyday-culture evidence answers: `usable` must be false for them."""


def row_answers(q: BankQuestion) -> list[str]:
    """Every human answer variant of a row (what the BLEnD scorer accepts)."""
    return [a for ann in q.annotations for a in (*ann.en_answers, *ann.answers)]


def build_vectors(bank: AnswerBank, path: Path = PACKAGE_VECTORS) -> int:
    """Embed every bank question (English, place names stripped) and write them to `path`."""
    texts = set()
    all_names = {}
    for culture, qs in sorted(bank.questions.items()):
        names = culture_names(culture, qs[0].name, registry=True)
        all_names[culture] = names
        texts |= {strip_names(q.en_question, names) for q in qs}
    PACKAGE_NAMES.write_text(
        json.dumps(all_names, ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
    )
    ordered = sorted(texts)
    save_vectors(path, dict(zip(ordered, embed_texts(ordered), strict=True)))
    answers = sorted(
        {
            answer_key(a.en_answers, a.answers)
            for qs in bank.questions.values()
            for q in qs
            for a in q.annotations
        }
    )
    save_vectors(PACKAGE_ANSWERS, dict(zip(answers, embed_texts(answers), strict=True)))
    return len(ordered) + len(answers) + build_multilingual_vectors(bank, all_names)


def build_multilingual_vectors(
    bank: AnswerBank, names: dict[str, list[str]], path: Path = PACKAGE_E5
) -> int:
    """Embed every bank question, local and English, with the multilingual encoder (the
    culture's names stripped) and write them to `path` (about 3 min on one core)."""
    texts: set[str] = set()
    for culture, qs in bank.questions.items():
        texts |= {strip_names(q.en_question, names[culture]) for q in qs}
        texts |= {strip_local_names(q.question, names[culture]) for q in qs if q.language != "en"}
    ordered = sorted(texts)
    save_vectors(path, dict(zip(ordered, embed_multilingual(ordered), strict=True)))
    return len(ordered)


Group = tuple[str, str, np.ndarray, np.ndarray, str]
"""One asked question: (question id, culture, candidates' features, right-or-not, `en` or
`local`)."""


def training_groups(
    index: EvidenceIndex,
    languages: Sequence[str] = LANGUAGES,
    *,
    twin: bool = False,
    asked: AnswerBank | None = None,
) -> list[Group]:
    """A `Group` for every bank question and language, each asked with its id left out (its
    rows in every culture: neighbours and counts); or for every question of `asked`, a bank
    that shares no id with the index's. `twin` (a diagnostic): local-language
    questions get the neighbours of their English twin and keep local-language answers, which
    separates what finding neighbours costs them from what matching local answers costs."""
    out = []
    rows_of: dict[str, list[BankQuestion]] = {}
    for qs in index.bank.questions.values():
        for q in qs:
            rows_of.setdefault(q.id, []).append(q)
    questions = (asked or index.bank).questions
    for culture in index.cultures():
        for q in questions.get(culture, []):
            own = [] if asked is not None else [q.id]  # an asked bank's ids are not in the index
            answers = row_answers(q)
            for lang in languages:
                if lang == "local" and q.language == "en":
                    continue
                text = q.en_question if lang == "en" else q.question
                sims, matched, vec = index.match(
                    text, culture, "en" if lang == "en" else q.language, own
                )
                if twin and lang == "local":
                    sims, _, vec = index.match(q.en_question, culture, "en", own)
                ev = index.rank_similar(
                    culture,
                    sims,
                    matched,
                    vec,
                    exclude_ids=own,
                    k=10_000,
                    # The id's rows in every culture, as for a question not in the bank at all.
                    excluded_rows=rows_of.get(q.id, []) if own else (),
                    with_sources=False,
                )
                x = np.asarray(
                    [[c.features[f] for f in FEATURES] for c in ev.candidates], dtype=np.float64
                ).reshape(-1, len(FEATURES))
                y = np.asarray([is_correct(c.text, answers) for c in ev.candidates], dtype=bool)
                out.append((q.id, culture, x, y, lang))
    return out


def crossfit_groups(
    bank: AnswerBank,
    model: RankerModel,
    vectors: dict[str, np.ndarray],
    answers: dict[str, np.ndarray],
    folds: int,
    *,
    metric: bool = True,
) -> tuple[list[Group], list[EvidenceIndex]]:
    """`training_groups` of every bank question, each fold's questions asked of a bank of the
    other folds with the question metric fitted on that bank, as a new question meets the
    shipped bank and its metric: a metric that had learnt from a question's own answers would
    make its neighbours look better than they will be. Also the per-fold indexes. `metric`
    false: MiniLM's cosine, and every question asked of the whole bank without its own id."""
    if not metric:
        index = EvidenceIndex(bank, model, vectors, answers)
        return training_groups(index), [index] * folds
    ids = {q.id for qs in bank.questions.values() for q in qs}
    groups: list[Group] = []
    indexes = []
    for f in range(folds):
        inside = bank.restricted({i for i in ids if fold_of(i, folds) != f})
        outside = bank.restricted({i for i in ids if fold_of(i, folds) == f})
        index = EvidenceIndex(inside, model, vectors, answers, *bank_maps(inside, vectors, answers))
        groups += training_groups(index, asked=outside)
        indexes.append(index)
    return groups, indexes


Scorer = Callable[[np.ndarray], np.ndarray]
"""Candidates' features (rows) → one score each (higher is better)."""


def accuracy(
    groups: Sequence[Group],
    w: np.ndarray | Scorer,
    top: int = 1,
) -> float:
    """Mean over cultures of the share of questions with a right answer in the top `top`
    (`w`: linear weights or a scorer)."""
    score: Scorer = w if callable(w) else (lambda x: x @ w)
    per: dict[str, list[bool]] = {}
    for _, culture, x, y, _ in groups:
        hit = bool(len(x)) and bool(y[np.argsort(-score(x), kind="stable")[:top]].any())
        per.setdefault(culture, []).append(hit)
    return float(np.mean([np.mean(v) for v in per.values()]))


class Lead(NamedTuple):
    """One cross-validated question's lead answer."""

    language: str
    """`en` or `local`."""
    culture: str
    """Culture asked about."""
    right: bool
    """The lead answer is right."""
    chance: float
    """The trees' chance of the lead answer being right (what `min_lead_chance` gates)."""
    top3: bool
    """One of the first three answers is right (what a withheld reply also loses)."""


def cross_validate(
    groups: Sequence[Group],
    l2: float,
    folds: int,
    trees: TreeSettings | None = None,
    leads: list[Lead] | None = None,
) -> tuple[float, float]:
    """Lead and top-3 accuracy with the score fitted on the other folds (folds by question id):
    linear weights, or trees when `trees` is given. With trees, `leads` (when given) receives
    each question's `Lead`."""
    lead, top3 = [], []
    for f in range(folds):
        train = [(x, y) for qid, _, x, y, _ in groups if fold_of(qid, folds) != f]
        test = [g for g in groups if fold_of(g[0], folds) == f]
        if trees is None:
            scorer: np.ndarray | Scorer = fit_weights(train, l2=l2)
        else:
            ensemble = fit_trees(train, trees)
            scorer = lambda x, e=ensemble: e.predict(context_features(x))  # noqa: E731
            if leads is not None:
                for _, culture, x, y, lang in test:
                    if len(x):
                        z = scorer(x)
                        order = np.argsort(-z, kind="stable")
                        chance = float(1 / (1 + np.exp(-z[order[0]])))
                        leads.append(
                            Lead(lang, culture, bool(y[order[0]]), chance, bool(y[order[:3]].any()))
                        )
        lead.append(accuracy(test, scorer, 1))
        top3.append(accuracy(test, scorer, 3))
    return float(np.mean(lead)), float(np.mean(top3))


def baseline_accuracy(groups: Sequence[Group], top: int = 1) -> float:
    """The same measure for the nearest question's answers in their own order (no learning)."""
    sim, rank = FEATURES.index("sim"), FEATURES.index("log_rank")
    return accuracy(groups, lambda x: 100.0 * x[:, sim] - x[:, rank], top)


GATES = (0.05, 0.1, 0.15, 0.2, 0.25)
"""Lead chances tried as the `min_lead_chance` gate."""
MAX_GATE_COST = 0.005
"""Cross-validated lead accuracy the gate may cost in either language (right answers withheld)."""


def gate_table(leads: Sequence[Lead]) -> list[dict[str, Any]]:
    """For each gate of `GATES`, per language: the cross-validated lead accuracy (mean over
    cultures) with answers below the gate withheld, its cost against no gate (also for any of
    the first three answers), and how many right and wrong lead answers it withholds."""

    def over(per: dict[str, dict[str, list[bool]]], key: str) -> float:
        """Mean over cultures of one column."""
        return float(np.mean([np.mean(v[key]) for v in per.values()]))

    out = []
    for gate in GATES:
        row: dict[str, Any] = {"min_lead_chance": gate}
        for lang in sorted({r.language for r in leads}):
            mine = [r for r in leads if r.language == lang]
            per: dict[str, dict[str, list[bool]]] = {}
            for r in mine:
                cell = per.setdefault(
                    r.culture, {"lead": [], "gated": [], "top3": [], "top3_g": []}
                )
                kept = r.chance >= gate
                cell["lead"].append(r.right)
                cell["gated"].append(r.right and kept)
                cell["top3"].append(r.top3)
                cell["top3_g"].append(r.top3 and kept)
            row[lang] = {
                "lead": round(over(per, "gated"), 4),
                "cost": round(over(per, "lead") - over(per, "gated"), 4),
                "top3_cost": round(over(per, "top3") - over(per, "top3_g"), 4),
                "right_withheld": sum(r.right and r.chance < gate for r in mine),
                "wrong_withheld": sum(not r.right and r.chance < gate for r in mine),
                "questions": len(mine),
            }
        out.append(row)
    return out


def choose_gate(table: Sequence[dict[str, Any]]) -> float:
    """The highest gate whose cost stays within `MAX_GATE_COST` in every language (0: none)."""
    ok = [
        float(r["min_lead_chance"])
        for r in table
        if all(v["cost"] <= MAX_GATE_COST for k, v in r.items() if isinstance(v, dict))
    ]
    return max(ok, default=0.0)


def calibrate_threshold(
    index: EvidenceIndex,
    index_of: Callable[[str], EvidenceIndex] | None = None,
    asked: AnswerBank | None = None,
) -> dict[str, float]:
    """Similarity of the closest question for off-topic questions and for real ones (own row
    left out), per language of the question. `asked`: the real questions (else `index`'s);
    `index_of`: the index each is asked of (one whose metric has not learnt from it), else
    `index`."""
    off = []
    for culture in index.cultures():
        for text in OFF_TOPIC:
            sims, _ = index.similarities(text, culture, "en")
            off.append(float(sims.max()))
    real: dict[str, list[float]] = {"en": [], "local": []}
    questions = (asked or index.bank).questions
    for culture in index.cultures():
        for q in questions.get(culture, []):
            texts = [("en", q.en_question)]
            if q.language != "en":
                texts.append(("local", q.question))
            asked_of = index_of(q.id) if index_of is not None else index
            for key, text in texts:
                sims, _ = asked_of.similarities(
                    text, culture, "en" if key == "en" else q.language, [q.id]
                )
                top = asked_of._top(culture, sims, [q.id], 1)
                if top:
                    real[key].append(top[0][1])
    return {
        "off_topic_max": float(np.max(off)),
        "real_en_p5": float(np.percentile(real["en"], 5)),
        "real_local_p5": float(np.percentile(real["local"], 5)),
    }


def set_thresholds(params: RankerParams, cal: dict[str, float]) -> None:
    """English: just above the most similar off-topic question (off-topic never passes; the
    few real questions below it say "no information"). Local language: the character scale has
    no off-topic reference set, so 95% of real questions pass."""
    params.min_similarity = round(cal["off_topic_max"] + 0.01, 3)
    params.min_similarity_local = round(cal["real_local_p5"], 3)


def twin_diagnostic(full: AnswerBank, local_ridge: float, folds: int) -> int:
    """Print the cross-validated lead and top-3 accuracy of local-language questions (trees
    fitted on English and local questions of the other folds) with their own neighbours and
    with their English twin's."""
    train_ids = {q.id for qs in full.questions.values() for q in qs if not is_eval_id(q.id)}
    params = RankerParams(neighbours=10, local_ridge=local_ridge)
    index = EvidenceIndex(
        full.restricted(train_ids),
        RankerModel([0.0] * len(FEATURES), params=params),
        load_vectors(PACKAGE_VECTORS),
        load_vectors(PACKAGE_ANSWERS),
    )
    own = training_groups(index)
    twin = training_groups(index, ["local"], twin=True)
    settings = TreeSettings()
    out: dict[str, Any] = {"local_ridge": local_ridge}
    for name, test in (("own", own), ("twin", twin)):
        lead, top3 = [], []
        for f in range(folds):
            ensemble = fit_trees(
                [(x, y) for q, _, x, y, _ in own if fold_of(q, folds) != f], settings
            )
            scorer = lambda x, e=ensemble: e.predict(context_features(x))  # noqa: E731
            for lang in LANGUAGES:
                part = [g for g in test if g[4] == lang and fold_of(g[0], folds) == f]
                if part:
                    lead.append((lang, accuracy(part, scorer, 1)))
                    top3.append((lang, accuracy(part, scorer, 3)))
        for lang in LANGUAGES:
            if any(k == lang for k, _ in lead):
                out[f"{name}_{lang}"] = {
                    "lead": round(float(np.mean([v for k, v in lead if k == lang])), 4),
                    "top3": round(float(np.mean([v for k, v in top3 if k == lang])), 4),
                }
    print(json.dumps(out, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=PACKAGE_BLEND, help="BLEnD directory")
    ap.add_argument("--out", type=Path, default=PACKAGE_WEIGHTS, help="weights file written")
    ap.add_argument("--vectors", action="store_true", help="re-embed the shipped questions first")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--neighbours", type=int, nargs="+", default=[10])
    ap.add_argument("--temperature", type=float, nargs="+", default=[0.05])
    ap.add_argument("--local-mix", type=float, nargs="+", default=[0.5])
    ap.add_argument(
        "--local-ridge",
        type=float,
        nargs="+",
        default=[0.3],
        help="ridge penalty of the local-language map (0: the 3 best character matches)",
    )
    ap.add_argument(
        "--local-translation-ridge",
        type=float,
        nargs="+",
        default=[0.03],
        help="ridge penalty of the multilingual (e5) map of local-language questions "
        "(0: the character map of --local-ridge)",
    )
    ap.add_argument("--l2", type=float, nargs="+", default=[0.001])
    ap.add_argument("--tree-iterations", type=int, nargs="+", default=[200, 400])
    ap.add_argument("--tree-leaves", type=int, nargs="+", default=[31])
    ap.add_argument(
        "--no-metric",
        action="store_true",
        help="MiniLM's own cosines, without the learnt question metric and answer-type map",
    )
    ap.add_argument(
        "--twin",
        action="store_true",
        help="diagnostic, nothing written: local-language questions' CV lead with their own "
        "neighbours and with their English twin's",
    )
    args = ap.parse_args(argv)

    full = AnswerBank.from_dir(args.data)
    if args.twin:
        return twin_diagnostic(full, args.local_ridge[0], args.folds)
    if args.vectors:
        n = build_vectors(full)
        print(f"embedded {n} questions into {PACKAGE_VECTORS}", file=sys.stderr)
    train_ids = {q.id for qs in full.questions.values() for q in qs if not is_eval_id(q.id)}
    bank = full.restricted(train_ids)
    vectors = load_vectors(PACKAGE_VECTORS)
    answers = load_vectors(PACKAGE_ANSWERS)
    results: list[dict[str, Any]] = []
    best: tuple[float, RankerParams, TreeSettings, list[Any], list[Any], list[Any]] | None = None
    grid = itertools.product(
        args.neighbours,
        args.temperature,
        args.local_mix,
        args.local_ridge,
        args.local_translation_ridge,
    )
    for n_nb, temp, mix, ridge, translation in grid:
        params = RankerParams(
            neighbours=n_nb,
            temperature=temp,
            local_mix=mix,
            local_ridge=ridge,
            local_translation_ridge=translation,
        )
        model = RankerModel([0.0] * len(FEATURES), params=params)
        started = time.perf_counter()
        groups, indexes = crossfit_groups(
            bank, model, vectors, answers, args.folds, metric=not args.no_metric
        )
        base = {**asdict(params), "score": "nearest question's answers in order (no learning)"}
        base |= {"cv_lead": round(baseline_accuracy(groups), 4)}
        base |= {"cv_top3": round(baseline_accuracy(groups, 3), 4)}
        results.append(base)
        print(json.dumps(base), file=sys.stderr)
        for l2 in args.l2:
            lead, top3 = cross_validate(groups, l2, args.folds)
            row = {
                **asdict(replace(params, l2=l2)),
                "score": "linear",
                "cv_lead": round(lead, 4),
                "cv_top3": round(top3, 4),
            }
            results.append(row)
            print(json.dumps(row), f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)
        for iterations, leaves in itertools.product(args.tree_iterations, args.tree_leaves):
            settings = TreeSettings(iterations=iterations, leaves=leaves)
            leads: list[Lead] = []
            lead, top3 = cross_validate(groups, 0.0, args.folds, settings, leads)
            row = {
                **asdict(params),
                "score": "trees",
                **asdict(settings),
                "cv_lead": round(lead, 4),
                "cv_top3": round(top3, 4),
            }
            for lang in LANGUAGES:  # the same lead accuracy for each language's questions alone
                per: dict[str, list[bool]] = {}
                for r in (r for r in leads if r.language == lang):
                    per.setdefault(r.culture, []).append(r.right)
                row[f"cv_lead_{lang}"] = round(
                    float(np.mean([np.mean(v) for v in per.values()])), 4
                )
            results.append(row)
            print(json.dumps(row), f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)
            if best is None or lead > best[0]:
                best = (lead, params, settings, groups, leads, indexes)
    assert best is not None
    _, params, settings, groups, leads, indexes = best
    gates = gate_table(leads)
    params = replace(params, min_lead_chance=choose_gate(gates))
    # What the groups depend on.
    shape = ("neighbours", "temperature", "local_mix", "local_ridge", "local_translation_ridge")
    same = {k: getattr(params, k) for k in shape}
    linear = [
        r for r in results if r["score"] == "linear" and all(r[k] == v for k, v in same.items())
    ]
    params = replace(params, l2=max(linear, key=lambda r: r["cv_lead"])["l2"])
    pairs = [(x, y) for _, _, x, y, _ in groups]
    w = fit_weights(pairs, l2=params.l2)
    trees = fit_trees(pairs, settings)
    # The shipped metric is fitted on the shipped bank (every id): the bank it will search.
    metric_path = args.out.with_name(METRIC_FILE)
    metric, answer_map = (None, None) if args.no_metric else bank_maps(full, vectors, answers)
    index = EvidenceIndex(
        full, RankerModel(w.tolist(), params=params), vectors, answers, metric, answer_map
    )
    # Similarities only (the score does not enter): off-topic questions of the shipped bank,
    # real ones asked of a fold's bank whose metric has not seen them.
    cal = calibrate_threshold(index, lambda qid: indexes[fold_of(qid, args.folds)], bank)
    set_thresholds(params, cal)
    model = RankerModel(
        w.tolist(),
        params=params,
        trees=trees,
        meta={
            "data": full.fingerprint(),
            "train_questions": len(train_ids),
            "folds": args.folds,
            "trees": asdict(settings),
            "cv": results,
            "threshold": {k: round(v, 4) for k, v in cal.items()},
            "gate": gates,
            "metric": None if metric is None else METRIC_FILE,
        },
    )
    model.save(args.out)
    if metric is not None:
        save_metric(metric_path, metric, full.fingerprint(), answer_map)
    else:
        metric_path.unlink(missing_ok=True)  # the ranker was fitted on MiniLM's cosine
    print(
        json.dumps(
            {
                "params": asdict(params),
                "weights": dict(zip(FEATURES, w.round(4).tolist(), strict=True)),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
