"""Batch retrieval evaluation: `manyshores eval kb` and the BLEnD top-k hit-rate scorer.

Input lines: `{"id": str, "text": str, "culture": str (optional), "qid": str (optional)}`.
Output lines, same order: `{"id": str, "hits": [{"culture", "source", "text", "score"}, ...]}`.

`blend_queries` builds such an input from BLEnD files; `score_blend` counts, per culture, the
questions with a passage containing one of the human answers among the hits. With
`exclude_own=True` a line's own question (`qid`) is left out of the search (with every grouped
passage and digest carrying its answers). `evaluate_blend_folds` is the faithful stand-in for
held-back questions: the knowledge base of each fold is built (digests included) from the other
folds' questions only, as the real base is built without the held-back ones.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from manyshores.blend_files import blend_rows, read_blend_dir
from manyshores.config import Settings
from manyshores.errors import InvalidInputError
from manyshores.eval.jsonl import read_jsonl
from manyshores.memory.ingest import load_blend
from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.passages import Document

CultureGuess = Callable[[str], dict[str, float] | None]


def read_queries(path: Path) -> list[dict[str, Any]]:
    """Query rows of a JSONL file: each needs a `text` (and may carry `id`, `cultures`, ...)."""
    rows = read_jsonl(path)
    for n, row in enumerate(rows, 1):
        if not isinstance(row.get("text"), str):
            raise InvalidInputError(f'{path}: row {n} needs "id" and "text"')
    return rows


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
    for row in blend_rows(blend_dir):
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
    for row in blend_rows(blend_dir):
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


def fold_of(question_id: str, folds: int) -> int:
    """Stable fold of a question id (the same for every culture and every run)."""
    return zlib.crc32(question_id.encode()) % folds


def evaluate_blend_folds(
    blend_dir: Path,
    *,
    folds: int = 10,
    k: int = 5,
    local_language: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Predictions for every BLEnD question, each from a base that never saw it.

    Questions are split into `folds` by id; for each fold a fresh embedded store in a temporary
    directory gets the passages and digests of the other folds' questions (digests clustered
    and ranked without the fold), and the fold's questions are asked against it. Embeddings are
    computed once and reused across folds.
    """
    if folds < 2:
        raise InvalidInputError("--folds needs at least 2 folds")
    from manyshores.memory.embeddings import embed

    rows = blend_queries(blend_dir, local_language=local_language)
    qids = {str(r["qid"]) for r in rows}
    vectors: dict[str, tuple[float, ...]] = {}

    def with_vectors(docs: list[Document]) -> list[Document]:
        missing = list(
            dict.fromkeys(d.text for d in docs if d.vector is None and d.text not in vectors)
        )
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            for text, vec in zip(chunk, embed(chunk), strict=True):
                vectors[text] = tuple(vec)
        return [
            d if d.vector is not None else dataclasses.replace(d, vector=vectors[d.text])
            for d in docs
        ]

    for fold in range(folds):
        keep = {q for q in qids if fold_of(q, folds) != fold}
        docs = with_vectors(list(load_blend(blend_dir, question_ids=keep)))
        asked = [r for r in rows if fold_of(str(r["qid"]), folds) == fold]
        with tempfile.TemporaryDirectory(prefix="manyshores-kb-fold-") as tmp:
            kb = KnowledgeBase.open(Settings(home=Path(tmp)))
            kb.add(docs)
            yield from evaluate_rows(kb, asked, k=k, progress=progress)


def blend_answer_ceiling(blend_dir: Path) -> dict[str, Any]:
    """Per culture, the share of questions with a human answer found (same matching as
    `score_blend`) anywhere in the other questions' annotations of that culture: no base built
    from the files can do better for a question it has no passage of its own for."""
    per: dict[str, float] = {}
    for _, rows in read_blend_dir(blend_dir):
        answers = {
            str(r["id"]): "\n".join(
                str(a)
                for ann in r.get("annotations") or []
                for a in [*ann.get("en_answers", []), *ann.get("answers", [])]
            )
            for r in rows
        }
        hit = n = 0
        for row in rows:
            pats = _answer_matchers(row)
            if not pats:
                continue
            others = "\n".join(t for q, t in answers.items() if q != str(row["id"]))
            hit += any(p.search(others) for p in pats)
            n += 1
        if n:
            per[str(rows[0]["culture"])] = round(hit / n, 4)
    return {
        "per_culture": per,
        "mean": round(sum(per.values()) / len(per), 4) if per else 0.0,
        "min": min(per.values()) if per else 0.0,
    }
