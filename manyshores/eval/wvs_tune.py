"""Choosing the `experts` mixture weight without looking at dev answers.

The default experts held out a seeded share of the train questions to stop early
(`SoftPromptConfig.val_fraction`): the experts never trained on them, so their predictions
there are out-of-sample. Survey memory answers them leaving the question out. Question folds
over those held-out questions pick the memory weight; run `python -m manyshores.eval.wvs_tune`.
"""

from __future__ import annotations

import json
import random
from typing import Any

from manyshores.eval.scores import country_scores, expected_position_choice
from manyshores.experts.aggregate import mix_with_memory

GRID = [round(0.1 * i, 1) for i in range(11)]


def fold_scores(rows: list[dict[str, Any]], weight: float) -> dict[str, float]:
    """Mean spa / jsd_align over countries of `rows` ({country, expert, memory, truth})."""
    by_c: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_c.setdefault(r["country"], []).append(r)
    spa = jsd = 0.0
    for rs in by_c.values():
        probs = [mix_with_memory(r["expert"], r["memory"], weight) for r in rs]
        s = country_scores(
            probs, [r["truth"] for r in rs], [expected_position_choice(p) for p in probs]
        )
        spa += s["spa"]
        jsd += s["jsd_align"]
    return {"spa": spa / len(by_c), "jsd_align": jsd / len(by_c)}


def cross_validate(rows: list[dict[str, Any]], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Pick the weight by spa + jsd_align on training folds; report the held-out folds' scores."""
    qids = sorted({r["qid"] for r in rows})
    random.Random(seed).shuffle(qids)
    chosen, held = [], []
    for f in range(folds):
        test = set(qids[f::folds])
        fit = [r for r in rows if r["qid"] not in test]
        best = max(GRID, key=lambda w: sum(fold_scores(fit, w).values()))
        chosen.append(best)
        held.append(fold_scores([r for r in rows if r["qid"] in test], best))
    final = max(GRID, key=lambda w: sum(fold_scores(rows, w).values()))
    return {
        "weight": final,
        "fold_weights": chosen,
        "held_out": {m: sum(h[m] for h in held) / folds for m in ("spa", "jsd_align")},
        "grid": {w: fold_scores(rows, w) for w in GRID},
    }


def collect_rows() -> list[dict[str, Any]]:
    from manyshores.config import get_settings
    from manyshores.eval.wvs import WvsEvaluator
    from manyshores.experts.base_model import load_base_model
    from manyshores.experts.defaults import DEFAULT_CONFIG
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.experts.survey_data import (
        PACKAGE_WVS,
        load_questions,
        load_split,
        split_questions,
    )
    from manyshores.memory.survey import SurveyMemory

    base = load_base_model()
    questions = load_questions()
    train = load_split(PACKAGE_WVS / "train.json")
    _, val_q = split_questions(
        sorted(questions.keys() & train["USA"].keys()),
        DEFAULT_CONFIG.val_fraction,
        DEFAULT_CONFIG.seed,
    )
    ev = WvsEvaluator(
        base, ExpertRegistry.from_settings(get_settings(), base), SurveyMemory.from_package()
    )
    data = {c: {q: v for q, v in a.items() if q in val_q} for c, a in train.items()}
    recs = ev.predict(questions, data, ["softprompt", "memory"])
    by = {(r["system"], r["country"], r["qid"]): r["probs"] for r in recs}
    return [
        {
            "country": c,
            "qid": q,
            "truth": t,
            "expert": by[("softprompt", c, q)],
            "memory": by[("memory", c, q)],
        }
        for c, a in data.items()
        for q, t in a.items()
    ]


if __name__ == "__main__":
    result = cross_validate(collect_rows())
    print(json.dumps(result, indent=1))
