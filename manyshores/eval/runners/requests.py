"""How well `detect_task` tells a short factual question from a request the evidence cannot
answer (`manyshores eval requests`).

Two measures:
- the BLEnD questions, every one a short factual question of the bank's kind, in English and in
  the local language: the share read as `fact` (per language, and per half of the question ids:
  the bank's training half and the evaluation half);
- a hand-written set of requests of every kind in many languages (`data/detect/requests.jsonl`:
  `text`, `request`, `language`, `set`): accuracy per kind, per language and per set, and the
  confusions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from manyshores.detection.task import detect_task
from manyshores.eval.jsonl import read_jsonl
from manyshores.eval.skips import Skips, unaskable
from manyshores.paths import PACKAGE_DETECT

PACKAGE_REQUESTS = PACKAGE_DETECT / "requests.jsonl"
"""The hand-written requests shipped with the package."""


def _share(hits: Counter[str], totals: Counter[str]) -> dict[str, float]:
    return {k: round(hits[k] / n, 4) for k, n in sorted(totals.items()) if n}


def bank_fact_share(data_dir: Path) -> dict[str, Any]:
    """Share of BLEnD questions read as `fact`, per language and per half, and the misreadings."""
    from manyshores.blend_files import blend_rows
    from manyshores.evidence.bank import is_eval_id

    facts: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    wrong: list[dict[str, str]] = []
    skips = Skips()
    for row in blend_rows(data_dir):
        half = "eval" if is_eval_id(str(row["id"])) else "train"
        for text, lang in ((row.get("en_question"), "en"), (row.get("question"), row["language"])):
            why = unaskable(text)
            if why is not None:
                skips.add(why, culture=row["culture"], id=row["id"], language=lang)
                continue
            kind = detect_task(str(text)).get("request", "fact")
            for key in (lang if lang == "en" else "local", f"{lang}:{half}", half, "all"):
                totals[key] += 1
                facts[key] += kind == "fact"
            if kind != "fact":
                wrong.append({"id": str(row["id"]), "request": kind, "text": str(text)})
    return {
        "fact_share": _share(facts, totals),
        "n": dict(sorted(totals.items())),
        "not_fact": wrong[:50],
        "skipped": skips.report(),
    }


def request_accuracy(path: Path = PACKAGE_REQUESTS) -> dict[str, Any]:
    """Accuracy of the request kind on a hand-written set, by kind, language and set."""
    skips = Skips()
    cases = read_jsonl(path, skips=skips)
    hits: dict[str, Counter[str]] = defaultdict(Counter)
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    confusions: Counter[str] = Counter()
    errors = []
    for n, case in enumerate(cases, 1):
        why = unaskable(case.get("text"))
        if why is not None or not case.get("request"):
            skips.add(why or "no expected request kind", case=n)
            continue
        got = detect_task(str(case["text"])).get("request", "fact")
        ok = got == case["request"]
        for by, key in (
            ("kind", case["request"]),
            ("language", case.get("language", "?")),
            ("set", case.get("set", "all")),
            ("all", "all"),
        ):
            totals[by][key] += 1
            hits[by][key] += ok
        if not ok:
            confusions[f"{case['request']} -> {got}"] += 1
            errors.append({"text": case["text"], "expected": case["request"], "got": got})
    return {
        "accuracy": {by: _share(hits[by], totals[by]) for by in ("all", "kind", "set", "language")},
        "n": {by: dict(totals[by]) for by in ("all", "kind", "set")},
        "confusions": dict(confusions.most_common()),
        "errors": errors,
        "skipped": skips.report(),
    }
