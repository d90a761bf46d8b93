"""Everyday multiple choice through the whole graph (`manyshores eval blend-mc`).

The items are built from the evaluation half of the BLEnD ids (`eval.datasets.blend_mc`), and
every one of those ids is out of the evidence (never matched, cited or counted) and out of the
knowledge base's answers. Each item goes, as a user message in a new thread, through the default
graph exactly as `manyshores ask` answers it. A line per item:
`{"culture", "id", "fold", "answer", "options", "parsed", "reply", "short", "probs",
"experts", "wording", "confidence", "seconds"}`.

The report, per part (tuning: fold 0, held-out: fold 1): accuracy of the reply's lead option
(`short`), per culture, its mean and minimum; the share of replies that print a percentage
(none may: no survey measured these options); the share whose options were parsed as listed;
the experts' own accuracy and, on the tuning part, the evidence combined with the experts at a
few exponents (whether they help).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from manyshores.eval.datasets.blend_mc import TUNING_FOLD, McItem
from manyshores.eval.jsonl import read_jsonl
from manyshores.textnorm import normalize_answer

PERCENT = re.compile(r"\d\s?%|%\s?\d|٪")
"""A percentage in a reply, in any of the reply languages' usual forms."""
EXPERT_EXPONENTS = (0.0, 0.25, 0.5, 1.0, 2.0)
"""Exponents of the experts' distribution tried in the product with the evidence's."""

Answer = Callable[[str], dict[str, Any]]
"""A user message → the turn's state values (a new thread each time)."""


def run_mc(
    items: Sequence[McItem], answer: Answer, out: Path, *, progress: bool = True
) -> list[dict[str, Any]]:
    """Answer every item into `out` (resumable: items already there are kept)."""
    from tqdm import tqdm

    done = {(p["culture"], p["id"]) for p in read_jsonl(out, resume=True)}
    out.parent.mkdir(parents=True, exist_ok=True)
    todo = [it for it in items if (it.culture, it.id) not in done]
    with (
        out.open("a", encoding="utf-8") as fh,
        tqdm(total=len(todo), disable=not progress, desc="eval blend-mc") as bar,
    ):
        for it in todo:
            start = time.perf_counter()
            values = answer(it.text)
            row = {
                "culture": it.culture,
                "id": it.id,
                "fold": it.fold,
                "answer": it.answer,
                "options": list(it.options),
                "parsed": list(values.get("task", {}).get("options") or []),
                "reply": values.get("answer", ""),
                "short": values.get("short", ""),
                "probs": [round(float(p), 6) for p in values.get("option_probs") or []],
                "experts": expert_mixture(values.get("expert_answers") or []),
                # A configured chat model's option probabilities alone (`chat:<culture>`).
                "chat": expert_mixture(a for a in values.get("expert_answers") or [] if is_chat(a)),
                "wording": values.get("wording", ""),
                "confidence": values.get("confidence"),
                "cultures": [c["id"] for c in values.get("posterior", {}).get("cultures", [])[:3]],
                "seconds": round(time.perf_counter() - start, 3),
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            bar.update(1)
    wanted = {(it.culture, it.id) for it in items}
    return [p for p in read_jsonl(out, resume=True) if (p["culture"], p["id"]) in wanted]


def expert_mixture(answers: Iterable[dict[str, Any]]) -> list[float]:
    """The experts' option distributions mixed by router weight (empty when none scored)."""
    mixed: list[float] = []
    total = 0.0
    for a in answers:
        probs = a.get("option_probs")
        if not probs:
            continue
        w = float(a.get("weight") or 0.0)
        mixed = (
            [m + w * p for m, p in zip(mixed, probs, strict=True)]
            if mixed
            else [w * p for p in probs]
        )
        total += w
    return [round(m / total, 6) for m in mixed] if total > 0 else []


def is_chat(answer: dict[str, Any]) -> bool:
    """An answer of a chat model's option experts (`experts.routing.CHAT_PREFIX`)."""
    return str(answer.get("expert_id", "")).startswith("chat:")


def fit_chat_weight(rows: Sequence[dict[str, Any]]) -> tuple[float, dict[str, float]]:
    """The exponent of the chat model's distribution in the product with the evidence's option
    scores that answers the most rows right (the smaller on ties), over rows the evidence
    scored and the chat model answered; and each exponent's accuracy. The rows must come from a
    run whose everyday weight was 0 (`probs` = the evidence's alone)."""
    used = [r for r in rows if r.get("wording") == "related" and r.get("probs") and r.get("chat")]
    if not used:
        return 0.0, {}
    accuracy = {
        e: sum(_argmax(_product(r["probs"], r["chat"], e)) == r["answer"] for r in used) / len(used)
        for e in EXPERT_EXPONENTS
    }
    best = max(EXPERT_EXPONENTS, key=lambda e: (accuracy[e], -e))
    return best, {str(e): round(a, 4) for e, a in accuracy.items()}


def picked(row: dict[str, Any]) -> int | None:
    """Index of the option the reply leads with (None when it leads with none)."""
    short = normalize_answer(str(row.get("short") or ""))
    if not short:
        return None
    for i, option in enumerate(row["options"]):
        if normalize_answer(option) == short:
            return i
    return None


def _argmax(values: Sequence[float]) -> int | None:
    return max(range(len(values)), key=lambda i: (values[i], -i)) if values else None


def _product(evidence: Sequence[float], experts: Sequence[float], exponent: float) -> list[float]:
    if len(experts) != len(evidence):
        return list(evidence)
    return [
        math.log(max(e, 1e-9)) + exponent * math.log(max(x, 1e-9))
        for e, x in zip(evidence, experts, strict=True)
    ]


def _accuracy(hits: dict[str, list[int]]) -> dict[str, Any]:
    per = {c: round(sum(v) / len(v), 4) for c, v in sorted(hits.items()) if v}
    flat = [x for v in hits.values() for x in v]
    return {
        "accuracy": round(sum(flat) / len(flat), 4) if flat else 0.0,
        "mean_over_cultures": round(sum(per.values()) / len(per), 4) if per else 0.0,
        "min_culture": min(per.values()) if per else 0.0,
        "per_culture": per,
    }


def score_part(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy of the lead option, the experts' own accuracy, and the reply checks."""
    lead: dict[str, list[int]] = defaultdict(list)
    experts: dict[str, list[int]] = defaultdict(list)
    combined: dict[float, dict[str, list[int]]] = {e: defaultdict(list) for e in EXPERT_EXPONENTS}
    percent = parsed = evidence = 0
    bins: list[tuple[float, int]] = []
    for r in rows:
        hit = int(picked(r) == r["answer"])
        lead[r["culture"]].append(hit)
        if r.get("experts"):
            experts[r["culture"]].append(int(_argmax(r["experts"]) == r["answer"]))
        if r.get("wording") == "related" and r.get("probs"):
            evidence += 1
            for e in EXPERT_EXPONENTS:
                best = _argmax(_product(r["probs"], r.get("experts") or [], e))
                combined[e][r["culture"]].append(int(best == r["answer"]))
            if isinstance(r.get("confidence"), (int, float)):
                bins.append((float(r["confidence"]), hit))
        percent += int(bool(PERCENT.search(str(r.get("reply", "")))))
        parsed += int(
            [normalize_answer(o) for o in r.get("parsed") or []]
            == [normalize_answer(o) for o in r["options"]]
        )
    n = max(len(rows), 1)
    return {
        "items": len(rows),
        "lead": _accuracy(lead),
        "experts_alone": _accuracy(experts),
        "evidence_times_experts": {
            str(e): _accuracy(h)["accuracy"] for e, h in combined.items() if h
        },
        "evidence_times_chat": fit_chat_weight(rows)[1],
        "from_evidence_share": round(evidence / n, 4),
        "percent_share": round(percent / n, 4),
        "parsed_share": round(parsed / n, 4),
        "confidence_ece": expected_calibration_error(bins),
    }


def expected_calibration_error(pairs: Sequence[tuple[float, int]], bins: int = 10) -> float | None:
    """Over 10 equal-width confidence bins: the share-weighted gap between each bin's mean
    confidence and its accuracy (None without pairs)."""
    if not pairs:
        return None
    cells: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for conf, hit in pairs:
        cells[min(int(conf * bins), bins - 1)].append((conf, hit))
    gap = sum(
        len(c) * abs(sum(x for x, _ in c) / len(c) - sum(h for _, h in c) / len(c))
        for c in cells.values()
    )
    return round(gap / len(pairs), 4)


def score_mc(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`score_part` of the tuning part (fold 0), the held-out part (fold 1) and both."""
    tuning = [r for r in rows if r["fold"] == TUNING_FOLD]
    held = [r for r in rows if r["fold"] != TUNING_FOLD]
    report: dict[str, Any] = {}
    for name, part in (("tuning", tuning), ("held_out", held)):
        if part:
            report[name] = score_part(part)
    return report
