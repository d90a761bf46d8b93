"""BLEnD short-answer evaluation of the CultureManager systems (`manyshores eval blend`).

Systems (each a prompt and, optionally, an adapter and retrieved notes):
- `base`: the question alone, no culture named in the system prompt;
- `prompted`: the system prompt names the culture;
- `rag`: prompted + knowledge-base passages for the question;
- `task_adapter` / `task_adapter_rag`: prompted (+ passages) with the culture's task adapter
  (`<culture>.<task>.lora`);
- `joint_adapter` / `joint_adapter_rag`: the same with one adapter trained on every culture
  (`joint.<task>.lora`) — against `task_adapter` this measures cross-culture interference.

Retrieval never sees the evaluated question's own annotations: every query passes the
question id to `exclude_question_ids` (which also drops grouped passages containing it), the
same as ingesting only the other questions.

Output lines `{"system", "culture", "id", "answer"}`, appended (re-running skips lines already
written). Scoring as BLEnD does: correct when a human answer (local or English, any annotator)
occurs in the answer after normalisation (lower-case, punctuation and articles stripped,
stemmed); accuracy per culture and system, and the mean over cultures.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.experts.prompts import task_messages
from manyshores.memory.ingest import blend_files
from manyshores.synthesis.textnorm import contains_phrase, normalize_answer, tokens

SYSTEMS = (
    "base",
    "prompted",
    "rag",
    "task_adapter",
    "task_adapter_rag",
    "joint_adapter",
    "joint_adapter_rag",
)
"""Every system `run_blend` knows."""


@dataclass(frozen=True)
class BlendQuestion:
    """One BLEnD question of one culture with its human answers."""

    id: str
    """BLEnD question id (the same id across cultures)."""
    culture: str
    """Culture id."""
    question: str
    """English question."""
    local_question: str
    """Question in the local language."""
    answers: tuple[str, ...]
    """Every human answer variant, English and local."""


def load_questions(
    data_dir: Path, cultures: Sequence[str] | None = None, limit: int | None = None
) -> list[BlendQuestion]:
    """Questions with at least one human answer, per culture in file order (`limit` per culture)."""
    wanted = {c.upper() for c in cultures} if cultures else None
    out: list[BlendQuestion] = []
    for path in blend_files(data_dir):
        rows = json.loads(path.read_text(encoding="utf-8"))
        taken = 0
        for row in rows:
            if wanted is not None and str(row["culture"]).upper() not in wanted:
                break
            answers = tuple(
                str(a)
                for ann in row.get("annotations") or []
                for a in [*ann.get("en_answers", []), *ann.get("answers", [])]
                if str(a).strip()
            )
            if not answers:
                continue
            out.append(
                BlendQuestion(
                    str(row["id"]),
                    str(row["culture"]),
                    str(row.get("en_question") or row["question"]),
                    str(row.get("question") or ""),
                    answers,
                )
            )
            taken += 1
            if limit is not None and taken >= limit:
                break
    if wanted is not None and not out:
        raise InvalidInputError(f"{data_dir}: no questions for cultures {sorted(wanted)}")
    return out


def is_correct(prediction: str, answers: Iterable[str]) -> bool:
    """True when a normalised human answer occurs in the (first line of the) prediction."""
    first = prediction.strip().split("\n", 1)[0]
    pred_tokens = tokens(first)
    pred_text = normalize_answer(first)
    for answer in answers:
        ans = tokens(answer)
        if not ans:
            continue
        if contains_phrase(pred_tokens, ans):
            return True
        norm = " ".join(ans)
        if not norm.isascii() and norm in pred_text:  # scripts without spaces
            return True
    return False


COMPARISONS = (
    ("task_adapter_rag", "prompted"),
    ("task_adapter_rag", "base"),
    ("task_adapter", "prompted"),
    ("task_adapter_rag", "task_adapter"),
    ("task_adapter_rag", "rag"),
    ("rag", "prompted"),
    ("task_adapter", "joint_adapter"),
    ("task_adapter_rag", "joint_adapter_rag"),
)
"""System pairs the report compares question by question, when both ran."""


def paired_difference(a: dict[Any, bool], b: dict[Any, bool]) -> dict[str, Any] | None:
    """Accuracy of `a` minus `b` over the questions both answered, with its standard error.

    Paired (each question answered by both), so the error is that of the mean per-question
    difference: tighter than comparing two independent accuracies. |diff| / se above ~2 is
    unlikely to be noise."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return None
    diffs = [int(a[k]) - int(b[k]) for k in common]
    n = len(diffs)
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return {
        "diff": round(mean, 4),
        "se": round((var / n) ** 0.5, 4),
        "n": n,
        "a_only": sum(d > 0 for d in diffs),
        "b_only": sum(d < 0 for d in diffs),
    }


def score_predictions(
    preds: Iterable[dict[str, Any]], questions: Sequence[BlendQuestion]
) -> dict[str, Any]:
    """Accuracy per system and culture, the mean over cultures, joint-vs-separate deltas, and
    paired differences between systems (`COMPARISONS`)."""
    by_key = {(q.culture, q.id): q for q in questions}
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    correct: dict[str, dict[tuple[str, str], bool]] = defaultdict(dict)
    for p in preds:
        q = by_key.get((str(p["culture"]), str(p["id"])))
        if q is None:
            continue
        hit = is_correct(str(p["answer"]), q.answers)
        correct[str(p["system"])][(q.culture, q.id)] = hit
        cell = totals[str(p["system"])][q.culture]
        cell[0] += int(hit)
        cell[1] += 1
    systems: dict[str, Any] = {}
    for system, per in totals.items():
        acc = {c: round(h / n, 4) for c, (h, n) in sorted(per.items()) if n}
        systems[system] = {
            "per_culture": acc,
            "n": {c: n for c, (_, n) in sorted(per.items())},
            "mean": round(sum(acc.values()) / len(acc), 4) if acc else 0.0,
        }
    report: dict[str, Any] = {"systems": systems}
    for sep, joint in (
        ("task_adapter", "joint_adapter"),
        ("task_adapter_rag", "joint_adapter_rag"),
    ):
        if sep in systems and joint in systems:
            a, b = systems[sep]["per_culture"], systems[joint]["per_culture"]
            common = sorted(set(a) & set(b))
            report.setdefault("separate_minus_joint", {})[sep] = {
                "per_culture": {c: round(a[c] - b[c], 4) for c in common},
                "mean": round(sum(a[c] - b[c] for c in common) / len(common), 4) if common else 0.0,
            }
    for a_sys, b_sys in COMPARISONS:
        paired = paired_difference(correct.get(a_sys, {}), correct.get(b_sys, {}))
        if paired is not None:
            report.setdefault("paired", {})[f"{a_sys} - {b_sys}"] = paired
    return report


Generate = Callable[[str | None, list[list[dict[str, str]]]], list[str]]
"""(expert id or None for the base model, a batch of chats) → one answer per chat."""
Retrieve = Callable[[BlendQuestion], list[str]]
"""Passages for a question, its own annotations excluded."""


def system_request(
    system: str,
    q: BlendQuestion,
    task: str,
    retrieve: Retrieve | None,
    *,
    expert_only: bool = False,
) -> tuple[str | None, list[dict[str, str]]]:
    """(expert id, messages) a system uses for question `q` (`expert_only`: no retrieval)."""
    from manyshores.experts.task_adapters import task_adapter_id

    if system not in SYSTEMS:
        raise InvalidInputError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    context: list[str] = []
    if system.endswith("rag") and not expert_only:
        if retrieve is None:
            raise InvalidInputError(f"system {system!r} needs a knowledge base")
        context = retrieve(q)
    expert = None
    if system.startswith("task_adapter"):
        expert = task_adapter_id(q.culture, task)
    elif system.startswith("joint_adapter"):
        expert = task_adapter_id("*", task)
    return expert, task_messages(
        q.culture, q.question, context=context, name_culture=system != "base"
    )


def read_predictions(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a torn last line from an interrupted run: that answer is redone
    return out


def run_blend(
    questions: Sequence[BlendQuestion],
    systems: Sequence[str],
    generate: Generate,
    out: Path,
    *,
    task: str = "everyday_qa",
    retrieve: Retrieve | None = None,
    available: Callable[[str], bool] = lambda _id: True,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Answer every question with every system into `out` (resumable); return the report.

    Questions sharing a system and an expert are answered `batch_size` at a time. A system whose
    adapter is missing for a culture is skipped there and listed under `missing_adapters`.
    """
    from tqdm import tqdm

    done = {(p["system"], p["culture"], p["id"]) for p in read_predictions(out)}
    out.parent.mkdir(parents=True, exist_ok=True)
    missing: dict[str, set[str]] = defaultdict(set)
    total = len(questions) * len(systems)
    with (
        out.open("a", encoding="utf-8") as fh,
        tqdm(total=total, disable=not progress, desc="eval blend") as bar,
    ):
        for system in systems:
            pending: dict[str | None, list[BlendQuestion]] = defaultdict(list)
            for q in questions:
                if (system, q.culture, q.id) in done:
                    bar.update(1)
                    continue
                expert = system_request(system, q, task, None, expert_only=True)[0]
                if expert is not None and not available(expert):
                    missing[system].add(q.culture)
                    bar.update(1)
                    continue
                pending[expert].append(q)
            for expert, qs in pending.items():
                for i in range(0, len(qs), batch_size):
                    chunk = qs[i : i + batch_size]
                    chats = [system_request(system, q, task, retrieve)[1] for q in chunk]
                    for q, answer in zip(chunk, generate(expert, chats), strict=True):
                        row = {"system": system, "culture": q.culture, "id": q.id, "answer": answer}
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    fh.flush()
                    bar.update(len(chunk))
    report = score_predictions(read_predictions(out), questions)
    report["missing_adapters"] = {s: sorted(c) for s, c in missing.items()}
    return report
