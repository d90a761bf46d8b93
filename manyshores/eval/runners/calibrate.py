"""Calibrating survey memory and the experts' weight by cross-validation with folds by question.

`manyshores experts calibrate --data ../shared/data/wvs/dev.json [--cache C.json] [--out DIR]`
writes `calibration.json` beside the expert set (`manyshores.survey.decision.Calibration`).

The expensive part, the 16 soft-prompt experts' distributions on every question, is computed
once (one committee pass per question: the shared prefix once, 16 rows of virtual tokens) and
cached; survey memory is cheap and is recomputed for each setting. Two steps, each honest about
which predictions are out of sample:

1. *Memory, then the answer rule*: memory leaves the asked question out, so every train and dev
   question is out of sample for it; folds by question over train and dev together. (a) `k`,
   `temperature`, `same_scale_bonus` of survey memory, adopted only if the CV choice beats the
   shipped values on the held-out folds; (b) `choice_sharpen`, the power the belief is raised to
   before answering with the option nearest its expected position.
2. *The expert weight* (`expert_weight`, exponent of the expert in the product with memory): the
   experts were fitted on most train questions, so only the dev questions and the train questions
   the experts held out to stop early are out of sample. Folds by question over those.

Each step picks the setting with the highest mean `spa + jsd_align` on the training folds and
reports the held-out folds' scores of what it picked (repeated with several seeds), beside the
plain `memory` system on the same folds. The final constants are the setting best on all rows of
the step. Held-back data is never read. Every step also reports the same constants for a country
without an expert or answers of its own (its nearest cultures' experts and memories), so they
are checked for an unseen culture too.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError
from manyshores.eval.metrics.survey import argmax, expected_position_choice, jsd
from manyshores.survey.decision import Calibration, decide, memory_lookup, mixture

if TYPE_CHECKING:
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.survey.data import SurveyQuestion
    from manyshores.survey.memory import MemoryParams, SurveyMemory

MEMORY_GRID: dict[str, list[Any]] = {
    "k": [8, 16, 32],
    "temperature": [0.05, 0.1, 0.2],
    "same_scale_bonus": [0.0, 0.2],
}
SHARPEN_GRID = [1.0, 1.25, 1.5, 2.0, 3.0]
WEIGHT_GRID = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]


@dataclass
class Row:
    """One (country, question) with the human answer and the parts the combination uses."""

    country: str
    qid: str
    truth: list[float]
    expert: list[float] | None
    """The culture's expert (or its nearest cultures' mixture); None when not needed."""
    memory: list[float]


def combine(row: Row, expert_weight: float, sharpen: float) -> tuple[list[float], int]:
    """The `experts` system under these constants (`decision.decide`): probs and the choice."""
    decision = decide(
        row.expert, row.memory, Calibration(expert_weight=expert_weight, choice_sharpen=sharpen)
    )
    return decision.probs, decision.choice


Stats = list[tuple[str, str, float, float, float, float]]
"""Per row: country, qid, squared distance of the answer to the majority, (n - 1)**2, JSD,
majority hit. Scores of any subset of questions add up from these."""


def row_stats(rows: Sequence[Row], predict: Callable[[Row], tuple[list[float], int]]) -> Stats:
    out = []
    for r in rows:
        probs, choice = predict(r)
        g = argmax(r.truth)
        n = len(r.truth)
        out.append(
            (
                r.country,
                r.qid,
                float((choice - g) ** 2),
                float((n - 1) ** 2),
                jsd(probs, r.truth),
                float(argmax(probs) == g),
            )
        )
    return out


def aggregate(stats: Stats, keep: Callable[[str], bool] = lambda q: True) -> dict[str, float]:
    """spa / jsd_align / majority_acc per country over the kept questions, averaged over
    countries (the definitions of `manyshores.eval.metrics.survey.country_scores`)."""
    per: dict[str, list[float]] = {}
    for country, qid, num, den, j, hit in stats:
        if keep(qid):
            acc = per.setdefault(country, [0.0, 0.0, 0.0, 0.0, 0.0])
            acc[0] += num
            acc[1] += den
            acc[2] += j
            acc[3] += hit
            acc[4] += 1
    if not per:
        return {"spa": math.nan, "jsd_align": math.nan, "majority_acc": math.nan}
    spa = [1 - math.sqrt(a[0]) / math.sqrt(a[1]) for a in per.values() if a[1] > 0]
    return {
        "spa": sum(spa) / len(spa),
        "jsd_align": sum(1 - a[2] / a[4] for a in per.values()) / len(per),
        "majority_acc": sum(a[3] / a[4] for a in per.values()) / len(per),
    }


def mean_scores(
    rows: Sequence[Row], predict: Callable[[Row], tuple[list[float], int]]
) -> dict[str, float]:
    """spa / jsd_align / majority_acc per country, averaged over countries."""
    return aggregate(row_stats(rows, predict))


def objective(s: dict[str, float]) -> float:
    return s["spa"] + s["jsd_align"]


def cross_validate(
    rows_of: Callable[[Any], list[Row]],
    settings: list[Any],
    predict_of: Callable[[Any], Callable[[Row], tuple[list[float], int]]],
    baseline: Callable[[Row], tuple[list[float], int]],
    folds: int = 5,
    repeats: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """Folds by question: pick the setting on the other folds, score it on the held-out fold.

    `rows_of(setting)` gives the rows under a setting (memory depends on it); `predict_of(setting)`
    the prediction function; `baseline` is scored on the same held-out folds (with the rows of the
    first setting) for comparison. Predictions do not depend on the fold, so each setting is
    predicted once and only the per-question statistics are regrouped per fold.
    """
    keys = [json.dumps(s) for s in settings]
    stats = {k: row_stats(rows_of(s), predict_of(s)) for k, s in zip(keys, settings, strict=True)}
    base_stats = row_stats(rows_of(settings[0]), baseline)
    qids = sorted({st[1] for st in base_stats})
    held: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    picked: dict[str, int] = {}
    for rep in range(repeats):
        order = list(qids)
        random.Random(seed + rep).shuffle(order)
        for f in range(folds):
            test = set(order[f::folds])
            fit = set(qids) - test
            best = max(keys, key=lambda k: objective(aggregate(stats[k], fit.__contains__)))
            picked[best] = picked.get(best, 0) + 1
            held.append(aggregate(stats[best], test.__contains__))
            base.append(aggregate(base_stats, test.__contains__))
    final = max(keys, key=lambda k: objective(aggregate(stats[k])))

    def avg(xs: list[dict[str, float]]) -> dict[str, float]:
        return {m: round(sum(x[m] for x in xs) / len(xs), 4) for m in xs[0]}

    return {
        "chosen": json.loads(final),
        "questions": len(qids),
        "folds": folds,
        "repeats": repeats,
        "picked_in_folds": picked,
        "held_out": avg(held),
        "baseline_held_out": avg(base),
        "all_rows": {k: {m: round(v, 4) for m, v in aggregate(stats[k]).items()} for k in keys},
    }


class Cache:
    """Expert distributions per question (`{qid: {culture: probs}}`), computed once and saved;
    dropped when the experts change (`stamp`)."""

    def __init__(self, path: Path, stamp: str = "") -> None:
        self.path = path
        self.stamp = stamp
        raw = json.loads(path.read_text()) if path.is_file() else {}
        self.data: dict[str, dict[str, list[float]]] = (
            raw.get("experts", {}) if raw.get("stamp") == stamp else {}
        )

    def fill(
        self, questions: dict[str, SurveyQuestion], qids: list[str], registry: ExpertRegistry
    ) -> None:
        todo = [q for q in qids if q not in self.data]
        if not todo:
            return
        from tqdm import tqdm

        from manyshores.experts.committee import Committee
        from manyshores.state import ExpertChoice

        base = registry.base
        if base is None:
            raise InvalidInputError("computing the experts' distributions needs a base model")
        choices: list[ExpertChoice] = []
        for c in registry.cultures("softprompt"):
            info = registry.for_culture(c, "softprompt")
            assert info is not None
            choices.append(
                {"id": info.id, "culture": c, "kind": "softprompt", "weight": 1.0, "reason": ""}
            )
        committee = Committee(base, registry)
        for n, qid in enumerate(tqdm(todo, desc="expert distributions"), 1):
            q = questions[qid]
            answers = committee.score_options(q.question, list(q.options), None, choices)
            self.data[qid] = {a["culture"]: list(a["option_probs"] or []) for a in answers}
            if n % 10 == 0 or n == len(todo):
                self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stamp": self.stamp, "experts": self.data}))
        tmp.replace(self.path)


def build_rows(
    split: dict[str, dict[str, list[float]]],
    questions: dict[str, SurveyQuestion],
    memory: SurveyMemory,
    params: MemoryParams | None,
    experts: dict[str, dict[str, list[float]]] | None,
    unseen: bool = False,
) -> list[Row]:
    """Rows of `split`; with `unseen`, each country is served as if it had no expert and no
    answers of its own (its nearest cultures' experts and memories, weighted by similarity:
    `decision.memory_lookup`'s fallback)."""
    from manyshores.cultures import nearest_cultures

    rows = []
    cultures = memory.cultures()
    for c, answers in split.items():
        near = nearest_cultures(c, [o for o in cultures if o != c]) if unseen else [(c, 1.0)]
        view = memory.without(c) if unseen else memory
        for qid, truth in answers.items():
            q = questions[qid]
            found = memory_lookup(
                view,
                [(c, 1.0)],
                q.question,
                q.options,
                floor=None,
                exclude={qid},
                qid=qid,
                params=params,
            )
            if found is None:
                raise InvalidInputError(f"survey memory has no answers for {c} or its neighbours")
            expert = None
            if experts is not None and qid in experts:
                have = [(o, w) for o, w in near if o in experts[qid]]
                if have:
                    expert = mixture([experts[qid][o] for o, _ in have], [w for _, w in have])
            rows.append(Row(c, qid, list(truth), expert, found.probs))
    return rows


DEFAULT_CACHE = Path.home() / ".cache/manyshores/calibrate_experts.json"
"""Where the experts' distributions are cached between runs (dropped when the experts change)."""


def calibrate(
    registry: ExpertRegistry,
    dev_path: Path,
    cache_path: Path = DEFAULT_CACHE,
    repeats: int = 4,
    seed: int = 0,
) -> tuple[Calibration, dict[str, Any]]:
    """The calibration of the registry's soft-prompt expert set on its base model, and the full
    report of the cross-validation (every setting's scores, the held-out folds')."""
    from manyshores.experts.train_defaults import DEFAULT_CONFIG
    from manyshores.survey.data import (
        PACKAGE_WVS,
        load_questions,
        load_split,
        split_questions,
    )
    from manyshores.survey.memory import MemoryParams, SurveyMemory

    if registry.base is None:
        raise InvalidInputError("calibrating an expert set needs its base model")
    questions = load_questions()
    train = load_split(PACKAGE_WVS / "train.json")
    dev = load_split(dev_path)
    memory = SurveyMemory.from_package(user_store=registry.user_root or False)
    both = {c: {**train.get(c, {}), **dev.get(c, {})} for c in set(train) | set(dev)}
    _, expert_val = split_questions(
        sorted(questions.keys() & train[sorted(train)[0]].keys()),
        DEFAULT_CONFIG.val_fraction,
        DEFAULT_CONFIG.seed,
    )
    # Out of sample for the experts: dev and the train questions they held out.
    oos = {
        c: {q: v for q, v in a.items() if q in expert_val or q in dev.get(c, {})}
        for c, a in both.items()
    }
    stamp = registry.experts_stamp()
    cache = Cache(cache_path, stamp)
    cache.fill(questions, sorted({q for a in oos.values() for q in a}), registry)

    def plain(r: Row) -> tuple[list[float], int]:
        return r.memory, expected_position_choice(r.memory)

    # Step 1: memory hyperparameters, then the answer rule; folds over train + dev questions.
    # The shipped memory parameters are replaced only if the CV choice beats them on the
    # held-out folds (each choice is a max over noisy scores: without that check any grid
    # point that wins by noise would replace them).
    default_params = MemoryParams()
    shipped = {k: getattr(default_params, k) for k in MEMORY_GRID}
    mem_settings = [shipped] + [
        m
        for m in (
            dict(zip(MEMORY_GRID, v, strict=True)) for v in itertools.product(*MEMORY_GRID.values())
        )
        if m != shipped
    ]
    mem_rows: dict[str, list[Row]] = {}

    def rows1(s: dict[str, Any]) -> list[Row]:
        key = json.dumps({k: s[k] for k in MEMORY_GRID})
        if key not in mem_rows:
            mp = MemoryParams(**{k: s[k] for k in MEMORY_GRID})
            mem_rows[key] = build_rows(both, questions, memory, mp, None)
        return mem_rows[key]

    step1a = cross_validate(rows1, mem_settings, lambda s: plain, plain, repeats=repeats, seed=seed)
    adopt = objective(step1a["held_out"]) > objective(step1a["baseline_held_out"])
    step1a["adopted"] = adopt
    mem_choice = step1a["chosen"] if adopt else shipped
    params = MemoryParams(**mem_choice)

    def predict1(s: dict[str, Any]) -> Callable[[Row], tuple[list[float], int]]:
        return lambda r: combine(r, 0.0, s["sharpen"])

    step1b = cross_validate(
        lambda s: rows1(mem_choice),
        [{"sharpen": x} for x in SHARPEN_GRID],
        predict1,
        plain,
        repeats=repeats,
        seed=seed,
    )
    best1 = {**mem_choice, **step1b["chosen"]}

    # Step 2: the expert weight, folds over the questions that are out of sample for the experts.
    def rows2(s: dict[str, Any], unseen: bool = False) -> list[Row]:
        key = f"oos{unseen}"
        if key not in mem_rows:
            mem_rows[key] = build_rows(oos, questions, memory, params, cache.data, unseen)
        return mem_rows[key]

    def predict2(s: dict[str, Any]) -> Callable[[Row], tuple[list[float], int]]:
        return lambda r: combine(r, s["expert_weight"], best1["sharpen"])

    step2_settings = [{"expert_weight": w} for w in WEIGHT_GRID]
    step2 = cross_validate(rows2, step2_settings, predict2, plain, repeats=repeats, seed=seed)
    w = step2["chosen"]["expert_weight"]

    # The chosen constants for countries served as unseen (nearest cultures only), dev only.
    def dev_only(rows: list[Row]) -> list[Row]:
        return [r for r in rows if r.qid in dev.get(r.country, {})]

    unseen_rows = dev_only(rows2({}, unseen=True))
    seen_rows = dev_only(rows2({}))
    result = {
        "step1a_memory": step1a,
        "step1b_answer_rule": step1b,
        "step2_expert_weight": step2,
        "constants": {**best1, "expert_weight": w},
        "dev": {
            "memory": mean_scores(seen_rows, plain),
            "experts": mean_scores(seen_rows, lambda r: combine(r, w, best1["sharpen"])),
            "memory_unseen_country": mean_scores(unseen_rows, plain),
            "experts_unseen_country": mean_scores(
                unseen_rows, lambda r: combine(r, w, best1["sharpen"])
            ),
        },
    }
    calibration = Calibration(
        expert_weight=float(w),
        choice_sharpen=float(best1["sharpen"]),
        memory=dict(mem_choice) if adopt else {},
        base_fingerprint=registry.base.fingerprint,
        experts_stamp=stamp,
        measured={"method": "question-fold CV", "dev": result["dev"]},
    )
    return calibration, result
