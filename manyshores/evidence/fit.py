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
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.evidence.bank import PACKAGE_BLEND, AnswerBank, fold_of, is_eval_id
from manyshores.evidence.culture_questions import bank_maps
from manyshores.evidence.fit_cv import (
    Lead,
    accuracy,
    baseline_accuracy,
    cross_validate,
    lead_by_language,
    tree_scorer,
)
from manyshores.evidence.fit_groups import (
    LANGUAGES,
    Group,
    crossfit_groups,
    training_groups,
)
from manyshores.evidence.fit_thresholds import (
    calibrate_threshold,
    choose_gate,
    gate_table,
    set_thresholds,
)
from manyshores.evidence.fit_vectors import build_vectors
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.metric import PACKAGE_METRIC, save_metric
from manyshores.evidence.ranker import (
    FEATURES,
    PACKAGE_WEIGHTS,
    RankerModel,
    RankerParams,
    TreeSettings,
    fit_trees,
    fit_weights,
)
from manyshores.evidence.similarity import PACKAGE_ANSWERS, PACKAGE_VECTORS, load_vectors

# The steps' own modules; these names are kept importable from here too.
__all__ = [
    "Lead",
    "build_vectors",
    "choose_gate",
    "gate_table",
    "main",
    "training_groups",
]

METRIC_FILE = PACKAGE_METRIC.name
"""The question metric is written beside the ranker's weights."""
SHAPE = ("neighbours", "temperature", "local_mix", "local_ridge", "local_translation_ridge")
"""The settings the training groups depend on (the rest only change how they are scored)."""


@dataclass
class FitData:
    """What every step reads: the shipped bank, its training half and the shipped vectors."""

    full: AnswerBank
    """Every shipped row: the bank the shipped metric and index search."""
    train_ids: set[str]
    """Question ids of the training half (`bank.is_eval_id` false)."""
    bank: AnswerBank
    """`full` restricted to `train_ids`: what the ranker is fitted and cross-validated on."""
    vectors: dict[str, np.ndarray]
    """Shipped question vectors (MiniLM, place names stripped)."""
    answers: dict[str, np.ndarray]
    """Shipped answer vectors."""

    @classmethod
    def of(cls, full: AnswerBank) -> FitData:
        """The training half of `full` and the shipped vectors."""
        train_ids = training_ids(full)
        return cls(
            full,
            train_ids,
            full.restricted(train_ids),
            load_vectors(PACKAGE_VECTORS),
            load_vectors(PACKAGE_ANSWERS),
        )


@dataclass
class Candidate:
    """One grid setting with one tree setting, cross-validated: the best is refitted."""

    lead: float
    """Cross-validated lead accuracy of the trees."""
    params: RankerParams
    """The ranker's settings (neighbours, temperature, local-language maps, ...)."""
    trees: TreeSettings
    """The tree ensemble's settings."""
    groups: list[Group]
    """Every training question asked as a new one under `params`."""
    leads: list[Lead]
    """Each question's cross-validated lead answer (what the gate is chosen from)."""
    indexes: list[EvidenceIndex]
    """Per fold, the index its questions were asked of."""


def training_ids(bank: AnswerBank) -> set[str]:
    """The question ids of the training half: the only ones fitted on."""
    return {q.id for qs in bank.questions.values() for q in qs if not is_eval_id(q.id)}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
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
    return ap.parse_args(argv)


def grid(args: argparse.Namespace) -> Iterator[RankerParams]:
    """Every combination of the ranker settings asked for."""
    for n_nb, temp, mix, ridge, translation in itertools.product(
        args.neighbours,
        args.temperature,
        args.local_mix,
        args.local_ridge,
        args.local_translation_ridge,
    ):
        yield RankerParams(
            neighbours=n_nb,
            temperature=temp,
            local_mix=mix,
            local_ridge=ridge,
            local_translation_ridge=translation,
        )


def _log(row: dict[str, Any], started: float | None = None) -> dict[str, Any]:
    """Print a cross-validation row as it comes (with the seconds since its setting started)."""
    if started is None:
        print(json.dumps(row), file=sys.stderr)
    else:
        print(json.dumps(row), f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    return row


def baseline_row(params: RankerParams, groups: Sequence[Group]) -> dict[str, Any]:
    """The nearest question's answers in their own order, for reference."""
    row = {**asdict(params), "score": "nearest question's answers in order (no learning)"}
    row |= {"cv_lead": round(baseline_accuracy(groups), 4)}
    row |= {"cv_top3": round(baseline_accuracy(groups, 3), 4)}
    return row


def linear_row(
    params: RankerParams, groups: Sequence[Group], l2: float, folds: int
) -> dict[str, Any]:
    """The linear score's cross-validated accuracy with ridge penalty `l2`."""
    lead, top3 = cross_validate(groups, l2, folds)
    return {
        **asdict(replace(params, l2=l2)),
        "score": "linear",
        "cv_lead": round(lead, 4),
        "cv_top3": round(top3, 4),
    }


def tree_row(
    params: RankerParams,
    groups: Sequence[Group],
    trees: TreeSettings,
    folds: int,
    leads: list[Lead],
) -> tuple[dict[str, Any], float]:
    """The trees' cross-validated accuracy (also per language), and the unrounded lead;
    `leads` receives each question's lead answer."""
    lead, top3 = cross_validate(groups, 0.0, folds, trees, leads)
    row = {
        **asdict(params),
        "score": "trees",
        **asdict(trees),
        "cv_lead": round(lead, 4),
        "cv_top3": round(top3, 4),
    }
    for lang in LANGUAGES:  # the same lead accuracy for each language's questions alone
        row[f"cv_lead_{lang}"] = round(lead_by_language(leads, lang), 4)
    return row, lead


def search_settings(
    args: argparse.Namespace, data: FitData
) -> tuple[list[dict[str, Any]], Candidate]:
    """Cross-validate every setting of the grid (baseline, linear, trees); every row, and the
    trees' setting with the best lead accuracy."""
    results: list[dict[str, Any]] = []
    best: Candidate | None = None
    for params in grid(args):
        model = RankerModel([0.0] * len(FEATURES), params=params)
        started = time.perf_counter()
        groups, indexes = crossfit_groups(
            data.bank, model, data.vectors, data.answers, args.folds, metric=not args.no_metric
        )
        results.append(_log(baseline_row(params, groups)))
        for l2 in args.l2:
            results.append(_log(linear_row(params, groups, l2, args.folds), started))
        for iterations, leaves in itertools.product(args.tree_iterations, args.tree_leaves):
            trees = TreeSettings(iterations=iterations, leaves=leaves)
            leads: list[Lead] = []
            row, lead = tree_row(params, groups, trees, args.folds, leads)
            results.append(_log(row, started))
            if best is None or lead > best.lead:
                best = Candidate(lead, params, trees, groups, leads, indexes)
    assert best is not None
    return results, best


def final_params(
    best: Candidate, results: Sequence[dict[str, Any]]
) -> tuple[RankerParams, list[dict[str, Any]]]:
    """The best setting with its gate (and the gate table it was chosen from) and the ridge
    penalty of the best linear score of the same training groups (the fallback score)."""
    gates = gate_table(best.leads)
    params = replace(best.params, min_lead_chance=choose_gate(gates))
    same = {k: getattr(params, k) for k in SHAPE}
    linear = [
        r for r in results if r["score"] == "linear" and all(r[k] == v for k, v in same.items())
    ]
    return replace(params, l2=max(linear, key=lambda r: r["cv_lead"])["l2"]), gates


def fit_and_write(
    args: argparse.Namespace,
    data: FitData,
    best: Candidate,
    params: RankerParams,
    results: list[dict[str, Any]],
    gates: list[dict[str, Any]],
) -> np.ndarray:
    """Refit both scores on every training question, set the similarity thresholds, write the
    ranker (and the shipped question metric beside it); the linear weights."""
    pairs = [(x, y) for _, _, x, y, _ in best.groups]
    w = fit_weights(pairs, l2=params.l2)
    trees = fit_trees(pairs, best.trees)
    # The shipped metric is fitted on the shipped bank (every id): the bank it will search.
    metric_path = args.out.with_name(METRIC_FILE)
    metric, answer_map = (
        (None, None) if args.no_metric else bank_maps(data.full, data.vectors, data.answers)
    )
    index = EvidenceIndex(
        data.full,
        RankerModel(w.tolist(), params=params),
        data.vectors,
        data.answers,
        metric,
        answer_map,
    )
    # Similarities only (the score does not enter): off-topic questions of the shipped bank,
    # real ones asked of a fold's bank whose metric has not seen them.
    cal = calibrate_threshold(index, lambda qid: best.indexes[fold_of(qid, args.folds)], data.bank)
    set_thresholds(params, cal)
    model = RankerModel(
        w.tolist(),
        params=params,
        trees=trees,
        meta={
            "data": data.full.fingerprint(),
            "train_questions": len(data.train_ids),
            "folds": args.folds,
            "trees": asdict(best.trees),
            "cv": results,
            "threshold": {k: round(v, 4) for k, v in cal.items()},
            "gate": gates,
            "metric": None if metric is None else METRIC_FILE,
        },
    )
    model.save(args.out)
    if metric is not None:
        save_metric(metric_path, metric, data.full.fingerprint(), answer_map)
    else:
        metric_path.unlink(missing_ok=True)  # the ranker was fitted on MiniLM's cosine
    return w


def twin_diagnostic(full: AnswerBank, local_ridge: float, folds: int) -> int:
    """Print the cross-validated lead and top-3 accuracy of local-language questions (trees
    fitted on English and local questions of the other folds) with their own neighbours and
    with their English twin's."""
    params = RankerParams(neighbours=10, local_ridge=local_ridge)
    index = EvidenceIndex(
        full.restricted(training_ids(full)),
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
            scorer = tree_scorer(
                [(x, y) for q, _, x, y, _ in own if fold_of(q, folds) != f], settings
            )
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
    args = parse_args(argv)
    full = AnswerBank.from_dir(args.data)
    if args.twin:
        return twin_diagnostic(full, args.local_ridge[0], args.folds)
    if args.vectors:
        n = build_vectors(full)
        print(f"embedded {n} questions into {PACKAGE_VECTORS}", file=sys.stderr)
    data = FitData.of(full)
    results, best = search_settings(args, data)
    params, gates = final_params(best, results)
    w = fit_and_write(args, data, best, params, results, gates)
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
