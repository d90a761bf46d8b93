"""Batch retrieval evaluation: `manyshores eval kb` and the BLEnD top-k hit-rate scorer.

Input lines: `{"id": str, "text": str, "culture": str (optional), "qid": str (optional)}`.
Output lines, same order: `{"id": str, "hits": [{"culture", "source", "text", "score"}, ...]}`.

`blend_queries` builds such an input from BLEnD files; `score_blend` counts, per culture, the
questions with a passage containing one of the human answers among the hits. With
`exclude_own=True` a line's own question (`qid`) is left out of the search, which measures how
well the knowledge base serves questions it has no passage for (the held-back ones).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.memory.ingest import blend_files
from manyshores.memory.knowledge_base import KnowledgeBase

CultureGuess = Callable[[str], dict[str, float] | None]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc}") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}:{lineno}: not JSON: {exc}") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InvalidInputError(f'{path}:{lineno}: needs "id" and "text"')
        yield row


def evaluate_rows(
    kb: KnowledgeBase,
    rows: list[dict[str, Any]],
    *,
    k: int = 5,
    exclude_own: bool = False,
    detect: CultureGuess | None = None,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """One output line per input row, in order; culture detected when a row has none."""
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        cultures: list[dict[str, float] | None] = []
        for row in batch:
            if row.get("culture"):
                cultures.append({str(row["culture"]): 1.0})
            else:
                cultures.append(detect(row["text"]) if detect else None)
        exclude = [
            {str(row.get("qid") or row.get("id"))} if exclude_own else set() for row in batch
        ]
        results = kb.query_batch(
            [row["text"] for row in batch], cultures, k, exclude_question_ids=exclude
        )
        for row, passages in zip(batch, results, strict=True):
            hits = [{k_: v for k_, v in p.to_json().items() if k_ != "id"} for p in passages]
            yield {"id": row.get("id"), "hits": hits}
        if progress:
            progress(len(batch))


def blend_queries(blend_dir: Path, *, local_language: bool = False) -> list[dict[str, Any]]:
    """Eval input from BLEnD files: one line per culture and question."""
    rows: list[dict[str, Any]] = []
    for path in blend_files(blend_dir):
        for row in json.loads(path.read_text(encoding="utf-8")):
            text = row["question"] if local_language else row["en_question"]
            rows.append(
                {
                    "id": f"{row['culture']}:{row['id']}",
                    "qid": row["id"],
                    "culture": row["culture"],
                    "text": text,
                }
            )
    return rows


def _answer_matchers(row: dict[str, Any]) -> list[re.Pattern[str]]:
    pats: list[re.Pattern[str]] = []
    for ann in row.get("annotations") or []:
        for ans in [*ann.get("en_answers", []), *ann.get("answers", [])]:
            ans = " ".join(str(ans).split())
            if not ans or (len(ans) == 1 and not ans.isalnum()):
                continue  # single digits are real answers ("3" meals); lone punctuation is not
            # Word boundaries for alphabetic scripts (so "tea" does not match "steak"); plain
            # substring for scripts written without spaces.
            if ans.isascii():
                pats.append(re.compile(rf"(?<!\w){re.escape(ans)}(?!\w)", re.IGNORECASE))
            else:
                pats.append(re.compile(re.escape(ans), re.IGNORECASE))
    return pats


def score_blend(preds: Iterable[dict[str, Any]], blend_dir: Path) -> dict[str, Any]:
    """Per-culture share of questions whose hits contain a human answer; plus the mean."""
    answers: dict[str, list[re.Pattern[str]]] = {}
    for path in blend_files(blend_dir):
        for row in json.loads(path.read_text(encoding="utf-8")):
            answers[f"{row['culture']}:{row['id']}"] = _answer_matchers(row)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pred in preds:
        pats = answers.get(str(pred["id"]))
        if not pats:  # unknown id, or a question nobody answered: it cannot be hit
            continue
        culture = str(pred["id"]).split(":", 1)[0]
        hit = any(p.search(h["text"]) for h in pred["hits"] for p in pats)
        totals[culture][0] += int(hit)
        totals[culture][1] += 1
    per = {c: round(h / n, 4) for c, (h, n) in sorted(totals.items()) if n}
    return {
        "per_culture": per,
        "mean": round(sum(per.values()) / len(per), 4) if per else 0.0,
        "min": min(per.values()) if per else 0.0,
        "questions": sum(n for _, n in totals.values()),
    }
