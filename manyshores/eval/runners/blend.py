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
written); scored by `metrics.blend.score_blend_predictions`. A question that cannot be asked (a
blank local question) is skipped and counted under `skipped` in the report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from manyshores.errors import InvalidInputError
from manyshores.eval.datasets.blend import BlendQuestion, load_questions
from manyshores.eval.jsonl import read_jsonl
from manyshores.eval.metrics.blend import score_blend_predictions
from manyshores.eval.skips import Skips, unaskable
from manyshores.experts.prompts import task_messages

__all__ = ["SYSTEMS", "BlendQuestion", "load_questions", "run_blend", "system_request"]

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
    adapter is missing for a culture is skipped there and listed under `missing_adapters`; a
    question that cannot be asked is listed under `skipped`.
    """
    from tqdm import tqdm

    skips = Skips()
    askable = []
    for q in questions:
        why = unaskable(q.question)
        if why is None:
            askable.append(q)
        else:
            skips.add(why, culture=q.culture, id=q.id)
    questions = askable

    done = {(p["system"], p["culture"], p["id"]) for p in read_jsonl(out, resume=True)}
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
    report = score_blend_predictions(read_jsonl(out, resume=True), questions)
    report["missing_adapters"] = {s: sorted(c) for s, c in missing.items()}
    report["skipped"] = skips.report()
    return report
