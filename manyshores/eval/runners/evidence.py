"""Offline accuracy of the evidence ranker on BLEnD (`manyshores eval evidence`).

The bank holds only the training half of the question ids (`bank.is_eval_id` false); every row
of the evaluation half is asked in English and in its local language. With `folds`, the
evaluation half is split into that many folds by id instead, each asked of a bank of every other
shipped id: how a question outside the data meets the shipped bank. Scored as BLEnD does
(`eval.blend.is_correct` against every local and English human answer of the row): the lead
answer, any of the top three, and in the same run the baseline — the top human answer of the
most similar training question of the same culture. A row that cannot be asked in a language (a
blank local question) or scored (no human answer) is skipped and counted per language.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from manyshores.eval.skips import Skips, unaskable
from manyshores.evidence.bank import AnswerBank, BankQuestion, fold_of, is_eval_id
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.ranker import RankerModel
from manyshores.paths import PACKAGE_BLEND
from manyshores.textnorm import is_correct

METRICS = ("lead", "top3", "baseline", "usable")


def row_answers(q: BankQuestion) -> list[str]:
    return [a for ann in q.annotations for a in (*ann.en_answers, *ann.answers)]


def evaluation_plans(ids: set[str], folds: int = 0) -> list[tuple[set[str], set[str]]]:
    """(bank ids, asked ids) pairs. No folds: the training half asks nothing, the evaluation
    half is asked of it. `folds` > 0: the evaluation half split by a hash of the id, each fold
    asked of every other id (the other folds' evaluation ids included)."""
    asked = {i for i in ids if is_eval_id(i)}
    if folds <= 0:
        return [(ids - asked, asked)]
    parts = [{i for i in asked if fold_of(i, folds) == f} for f in range(folds)]
    return [(ids - part, part) for part in parts if part]


def evaluate_evidence(
    data_dir: Path = PACKAGE_BLEND,
    languages: Sequence[str] = ("en", "local"),
    *,
    model: RankerModel | None = None,
    cultures: Sequence[str] | None = None,
    folds: int = 0,
    progress: Callable[[int], None] | None = None,
    part: str = "all",
) -> dict[str, Any]:
    """Per language: per culture and mean over cultures of each of `METRICS` (`model`: the
    shipped ranker unless given; `folds`: see `evaluation_plans`), and how the replies were
    worded and calibrated (`metrics.confidence.wording_report`). `part`: `tune` or `held-out`
    asks only that part of the evaluation half (`blend_graph.part_of`), `all` every row."""
    from manyshores.eval.metrics.confidence import Judged, wording_report
    from manyshores.eval.runners.blend_graph import part_of

    full = AnswerBank.from_dir(data_dir)
    all_ids = {q.id for qs in full.questions.values() for q in qs}
    # Each bank gets the question metric and answer-type map of exactly its ids (seconds).
    plans = [
        (EvidenceIndex.for_bank(full.restricted(bank), model), asked)
        for bank, asked in evaluation_plans(all_ids, folds)
    ]
    wanted = set(cultures) if cultures else None
    report: dict[str, Any] = {"languages": {}}
    started = time.perf_counter()
    n_queries = 0
    judged: list[Judged] = []
    for lang in languages:
        hits: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        skips = Skips()
        for culture in full.cultures():
            if wanted is not None and culture not in wanted:
                continue
            rows = [
                (ix, q)
                for ix, ids in plans
                for q in full.questions[culture]
                if q.id in ids and part in ("all", part_of(q.id))
            ]
            for index, q in rows:
                text = q.en_question if lang == "en" else q.question
                asked = "en" if lang == "en" else q.language
                answers = row_answers(q)
                why = unaskable(text) or (None if answers else "no human answer")
                if why is not None:
                    skips.add(why, culture=culture, id=q.id)
                    continue
                ev = index.rank(text, culture, language=asked, k=3)
                n_queries += 1
                cell = hits[culture]
                cell["lead"].append(
                    bool(ev.candidates) and is_correct(ev.candidates[0].text, answers)
                )
                cell["top3"].append(any(is_correct(c.text, answers) for c in ev.candidates[:3]))
                named = ev.wording != "related" or bool(ev.candidates[0].question)
                judged.append(Judged(lang, ev.wording, ev.confidence, cell["lead"][-1], named))
                cell["usable"].append(ev.usable)
                nearest = index.neighbours(text, culture, language=asked, n=1)
                base = ""
                if nearest:
                    top = nearest[0][0].annotations[0]
                    local = asked != "en" and bool(top.answers)
                    base = top.answers[0] if local else (top.en_answers or top.answers)[0]
                cell["baseline"].append(bool(base) and is_correct(base, answers))
            if progress:
                progress(1)
        per = {
            c: {m: round(sum(v[m]) / len(v[m]), 4) for m in METRICS} | {"n": len(v["lead"])}
            for c, v in sorted(hits.items())
        }
        mean = {
            m: round(sum(p[m] for p in per.values()) / len(per), 4) if per else 0.0 for m in METRICS
        }
        report["languages"][lang] = {
            "mean": mean,
            "min_lead": min((p["lead"] for p in per.values()), default=0.0),
            "per_culture": per,
            "skipped": skips.report(),
        }
    report["wording"] = wording_report(judged)
    report["part"] = part
    report["bank_questions"] = [len(all_ids - asked) for _, asked in plans]
    report["ms_per_query"] = round(1000 * (time.perf_counter() - started) / max(n_queries, 1), 2)
    ranker = plans[0][0].model
    report["ranker"] = {
        "params": ranker.params.__dict__,
        "weights": dict(zip(ranker.features, ranker.weights, strict=True)),
    }
    return report
