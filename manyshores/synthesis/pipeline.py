"""The synthesis loop: plan → retrieve → teacher → validate → keep, resumable.

    report = synthesize(SynthesisRequest("MEX", "everyday_qa", "short_answer", 100, out),
                        teacher, PassageSources(web=web, kb=kb))

Work is a deterministic sequence of items (planned query × retrieved passage × round). Every
kept example is appended to `out` (JSONL) with its item key in its provenance; every attempt,
kept or dropped, is appended to the attempt log `<out>.log.jsonl`. Re-running with the same
request skips every item already in either file, re-reads the kept examples (for
de-duplication and label balance) and the drop counts, and continues until `n` are kept or the
items run out — an interrupted run resumes without duplicates.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manyshores.cultures import iso_name
from manyshores.errors import InvalidInputError
from manyshores.passages import Passage
from manyshores.synthesis.ground import PassageSources
from manyshores.synthesis.plan import PlannedQuery, plan_queries
from manyshores.synthesis.teacher import Teacher, teacher_messages
from manyshores.synthesis.validate import (
    FORMATS,
    Balancer,
    check_format,
    check_grounding,
    dedup_key,
    parse_json_object,
    supporting_sentence,
)


@dataclass(frozen=True)
class SynthesisRequest:
    """What to synthesise and where to write it."""

    culture: str
    """Culture id (ISO 3166-1 alpha-3 or ISO 3166-2)."""
    task: str
    """Task name (`everyday_qa`, `food_qa`, or any name: its words become a search topic)."""
    fmt: str
    """One of `validate.FORMATS`."""
    n: int
    """Examples to keep."""
    out: Path
    """JSONL output (appended to; also the resume state)."""
    rounds: int = 1
    """Examples asked per passage (later rounds list the questions already asked)."""
    languages: int = 2
    """1: English queries only; 2: also the culture's main language."""

    @property
    def log_path(self) -> Path:
        """The attempt log beside the output."""
        return self.out.with_name(self.out.name + ".log.jsonl")


@dataclass
class SynthesisReport:
    """What a run did (cumulative over resumed runs for `kept` and `dropped`)."""

    kept: int
    """Examples in the output file."""
    new: int = 0
    """Examples kept by this run."""
    attempts: int = 0
    """Teacher calls made by this run."""
    dropped: Counter[str] = field(default_factory=Counter)
    """Dropped examples per reason (`validate.DROP_REASONS`), over all runs."""
    seconds: float = 0.0
    """Wall-clock time of this run."""
    exhausted: bool = False
    """True when the passages ran out before `n` examples were kept."""
    notes: list[str] = field(default_factory=list)
    """Why a source gave nothing (web skipped, knowledge base unavailable, ...)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "new": self.new,
            "attempts": self.attempts,
            "dropped": dict(self.dropped),
            "seconds": round(self.seconds, 2),
            "exhausted": self.exhausted,
            "notes": self.notes,
        }


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """JSON lines of `path`; a torn last line (killed mid-write) is cut off the file."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        raw = raw[: raw.rfind(b"\n") + 1]
        path.write_bytes(raw)
    rows = []
    for i, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            raise InvalidInputError(f"{path}:{i}: not JSON ({exc}); fix or move the file") from exc
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _items(
    request: SynthesisRequest, sources: PassageSources
) -> Iterator[tuple[str, PlannedQuery, Passage, int]]:
    """(item key, query, passage, round), deterministic for a given request and sources."""
    plan = plan_queries(request.culture, request.task, languages=request.languages)
    for rnd in range(request.rounds):
        used: set[str] = set()  # a passage found by several queries is taught from once a round
        for query in plan:
            for passage in sources.retrieve(query, request.culture):
                if passage.id not in used:
                    used.add(passage.id)
                    yield f"{query.text}|{passage.id}|{rnd}", query, passage, rnd


def synthesize(
    request: SynthesisRequest,
    teacher: Teacher,
    sources: PassageSources,
    *,
    progress: bool = True,
    batch_size: int = 1,
) -> SynthesisReport:
    """Run (or resume) a synthesis; see the module docstring.

    `batch_size` > 1 asks a teacher with `complete_batch` (the local base model) for that many
    items' replies in one call; they are then checked and logged one by one in item order, so
    the output is the same as one call at a time (greedy) and resuming works the same way.
    """
    from tqdm import tqdm

    if request.fmt not in FORMATS:
        raise InvalidInputError(f"unknown format {request.fmt!r}; use one of {', '.join(FORMATS)}")
    start = time.perf_counter()
    request.out.parent.mkdir(parents=True, exist_ok=True)
    kept = _read_lines(request.out)
    log_rows = _read_lines(request.log_path)
    tried = {r["item"] for r in log_rows} | {e["provenance"]["item"] for e in kept}
    report = SynthesisReport(kept=len(kept))
    report.dropped.update(r["status"] for r in log_rows if r["status"] != "kept")
    seen = {dedup_key(e, request.fmt) for e in kept}
    balancer = Balancer(request.fmt, request.n)
    asked: dict[str, list[str]] = {}
    for e in kept:
        balancer.observe(e)
        asked.setdefault(e["provenance"]["passage_id"], []).append(e["question"])
    name = iso_name(request.culture)
    bar = tqdm(
        total=request.n,
        initial=min(len(kept), request.n),
        disable=not progress,
        desc=f"synthesise {request.culture}/{request.task}",
        unit="ex",
    )
    state = _State(asked, seen, balancer, report)
    try:
        report.exhausted = True
        # Already complete: do not even search (a resumed, finished run costs nothing).
        work = _items(request, sources) if report.kept < request.n else iter(())
        pending: list[tuple[str, PlannedQuery, Passage, int]] = []
        for entry in work:
            if entry[0] in tried:
                continue
            if any(entry[2].id == p[2].id for p in pending):  # a later round asks it again
                pending = _run_batch(request, teacher, name, pending, state, bar)
            pending.append(entry)
            # No bigger batch than the examples still missing: a last batch of 16 for one
            # example costs as much as a full one.
            if len(pending) >= max(min(batch_size, request.n - report.kept), 1):
                pending = _run_batch(request, teacher, name, pending, state, bar)
            if report.kept >= request.n:
                report.exhausted = False
                break
        else:
            pending = _run_batch(request, teacher, name, pending, state, bar)
            report.exhausted = report.kept < request.n
    finally:
        bar.close()
    report.notes = list(sources.notes)
    report.seconds = time.perf_counter() - start
    return report


@dataclass
class _State:
    """What the checks of a run read and update."""

    asked: dict[str, list[str]]
    seen: set[str]
    balancer: Balancer
    report: SynthesisReport


def _messages(
    request: SynthesisRequest,
    name: str,
    query: PlannedQuery,
    passage: Passage,
    rnd: int,
    asked: dict[str, list[str]],
) -> list[dict[str, str]]:
    """The teacher request for one item (later rounds list the passage's questions so far)."""
    messages = teacher_messages(request.fmt, name, request.task, passage.text, query.text)
    if rnd and asked.get(passage.id):
        messages[-1]["content"] += "\nAsk something different from: " + "; ".join(asked[passage.id])
    return messages


def _run_batch(
    request: SynthesisRequest,
    teacher: Teacher,
    name: str,
    items: list[tuple[str, PlannedQuery, Passage, int]],
    state: _State,
    bar: Any,
) -> list[tuple[str, PlannedQuery, Passage, int]]:
    """Ask the teacher for every item, check and log the replies in order; returns `[]`.

    Replies past the `n`-th kept example are neither checked nor logged (a later run with a
    larger `n` asks again).
    """
    if not items:
        return []
    batch = [_messages(request, name, q, p, rnd, state.asked) for _, q, p, rnd in items]
    replies: list[str | Exception]
    complete_batch = getattr(teacher, "complete_batch", None)
    if complete_batch is not None and len(batch) > 1:
        try:
            replies = list(complete_batch(batch))
        except Exception as exc:  # a failing batch: every item of it failed
            replies = [exc] * len(batch)
    else:
        replies = []
        for messages in batch:
            try:
                replies.append(teacher.complete(messages))
            except Exception as exc:  # a flaky hosted teacher must not end a long run
                replies.append(exc)
    report = state.report
    for (item, query, passage, _rnd), reply in zip(items, replies, strict=True):
        if report.kept >= request.n:
            break
        report.attempts += 1
        if isinstance(reply, Exception):
            status, detail = "teacher_error", f"{type(reply).__name__}: {reply!s:.200}"
        else:
            status, detail = _check(request, teacher, item, query, passage, reply, state)
        _append(request.log_path, {"item": item, "status": status, "detail": detail})
        if status == "kept":
            bar.update(1)
        else:
            report.dropped[status] += 1
    return []


def _check(
    request: SynthesisRequest,
    teacher: Teacher,
    item: str,
    query: PlannedQuery,
    passage: Passage,
    reply: str,
    state: _State,
) -> tuple[str, str]:
    """The checks of one teacher reply: (`kept` or a drop reason, detail)."""
    raw = parse_json_object(reply)
    if raw is None:
        return "unparseable", reply[:200]
    fields, why = check_format(raw, request.fmt)
    if fields is None:
        return "format", f"{why}: {json.dumps(raw, ensure_ascii=False)[:200]}"
    if not fields["evidence"] and request.fmt != "classification":
        # A weak teacher often leaves the quote out: cite the passage's best sentence instead
        # (the answer must still be supported by the passage to pass).
        fields["evidence"] = supporting_sentence(fields["answer"], passage.text)
    why = check_grounding(fields, request.fmt, passage.text)
    if why is not None:
        return "grounding", f"{why}: {json.dumps(fields, ensure_ascii=False)[:200]}"
    key = dedup_key(fields, request.fmt)
    if key in state.seen:
        return "duplicate", fields["question"][:200]
    admitted = state.balancer.admit(fields)
    if admitted is None:
        return "balance", f"label {fields['answer']!r} is over its quota"
    state.seen.add(key)
    state.asked.setdefault(passage.id, []).append(fields["question"])
    example = {
        "id": hashlib.sha256(key.encode()).hexdigest()[:16],
        "culture": request.culture,
        "task": request.task,
        "format": request.fmt,
        **admitted,
        "provenance": {
            "item": item,
            "query": query.text,
            "query_lang": query.lang,
            "passage_id": passage.id,
            "source": passage.source,
            "origin": passage.origin,
            "passage": passage.text,
            "teacher": teacher.name,
        },
    }
    _append(request.out, example)
    state.report.kept += 1
    state.report.new += 1
    return "kept", example["id"]
