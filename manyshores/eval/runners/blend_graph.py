"""BLEnD through the whole graph (`manyshores eval blend --systems graph`).

Each question goes, as a user message in a new thread with no culture given, through the
default graph exactly as `manyshores ask` answers it, once in English and once in the
culture's own language. A line per question and language:
`{"system": "graph", "culture", "id", "language": "en"|"local", "answer", "short", "answers",
"wording", "confidence", "sources", "seconds", "cultures", "text_runtime"}`; with
`MANYSHORES_CHAT_MODEL` set the graph runs with that chat model (grounded replies are worded
`generated`). The report scores the lead answer (`short`) and any of the reply's
answers (at most three) the BLEnD way, and checks every reply: loops, the question's
language, broken characters, sentence ends. A question with no form in a language, or one that
cannot be asked (blank, binary), is skipped and counted, never a reason to stop the run.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.answers.evidence_phrases import evidence_phrases_for
from manyshores.answers.hygiene import SENTENCE_END, has_loop
from manyshores.eval.datasets.blend import BlendQuestion
from manyshores.eval.jsonl import read_jsonl
from manyshores.eval.metrics.blend import is_correct
from manyshores.eval.metrics.confidence import Judged, wording_report
from manyshores.eval.skips import Skips, unaskable

if TYPE_CHECKING:
    from manyshores.components import Components, Retriever
    from manyshores.config import Settings
    from manyshores.state import CulturePosterior, Source

LANGUAGES = ("en", "local")


def question_text(q: BlendQuestion, language: str) -> str | None:
    """The question as asked in `language` ("en" or "local"); None when it has no such form."""
    if language == "en":
        return q.question
    return q.local_question or None


Answer = Callable[[str], dict[str, Any]]
"""A user message → the `ask --json` object of its turn (a new thread each time)."""


def run_graph(
    questions: Sequence[BlendQuestion],
    languages: Sequence[str],
    answer: Answer,
    out: Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Answer every question in every language into `out` (resumable: done lines are kept);
    return what was skipped (`Skips.report`)."""
    from tqdm import tqdm

    from manyshores.errors import InvalidInputError

    done = {
        (p["culture"], p["id"], p.get("language", "en"))
        for p in read_jsonl(out, resume=True)
        if p.get("system") == "graph"
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    skips = Skips()
    todo = []
    for q in questions:
        for lang in languages:
            text = question_text(q, lang)
            why = "no question in this language" if text is None else unaskable(text)
            if why is not None:
                skips.add(why, culture=q.culture, id=q.id, language=lang)
            elif (q.culture, q.id, lang) not in done:
                todo.append((q, lang))
    with (
        out.open("a", encoding="utf-8") as fh,
        tqdm(total=len(todo), disable=not progress, desc="eval blend graph") as bar,
    ):
        for q, lang in todo:
            text = question_text(q, lang)
            assert text is not None
            start = time.perf_counter()
            try:
                result = answer(text)
            except InvalidInputError as exc:  # the graph refused it: a bad item, not a bad run
                skips.add(str(exc), culture=q.culture, id=q.id, language=lang)
                bar.update(1)
                continue
            row = {
                "system": "graph",
                "culture": q.culture,
                "id": q.id,
                "language": lang,
                "answer": result.get("answer", ""),
                "short": result.get("short", ""),
                "answers": list(result.get("answers") or [])[:3],
                "wording": result.get("wording") or "none",
                "confidence": result.get("confidence"),
                "sources": len(result.get("sources") or []),
                "seconds": round(time.perf_counter() - start, 3),
                "cultures": [c["id"] for c in result.get("cultures", [])[:3]],
                # What wrote the reply's text, if a model did (`chat_model:…` when configured).
                "text_runtime": result.get("text_runtime"),
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            bar.update(1)
    return skips.report()


def ends_sentence(text: str) -> bool:
    text = text.rstrip().rstrip("\"'”’»)]」』")
    return bool(text) and text[-1] in SENTENCE_END


def score_graph(
    preds: Iterable[dict[str, Any]],
    questions: Sequence[BlendQuestion],
    languages_of: Callable[[str], str | None],
) -> dict[str, Any]:
    """Per language: accuracy of `short` and of any of `answers` per culture and their mean
    over cultures; share of replies with a loop, in the question's language (where the
    identifier can tell both), with U+FFFD, and ending a sentence."""
    by_key = {(q.culture, q.id): q for q in questions}
    cells: dict[str, dict[str, dict[str, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: [0, 0]))
    )
    checks: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds: dict[str, list[float]] = defaultdict(list)
    judged: dict[str, list[Judged]] = defaultdict(list)  # per part of the evaluation half
    for p in preds:
        if p.get("system") != "graph":
            continue
        q = by_key.get((str(p["culture"]), str(p["id"])))
        if q is None:
            continue
        lang = str(p.get("language", "en"))
        reply = str(p.get("answer", ""))
        for metric, hit in (
            ("short", bool(p.get("short")) and is_correct(str(p["short"]), q.answers)),
            ("answers", any(is_correct(str(a), q.answers) for a in p.get("answers") or [])),
        ):
            cell = cells[lang][metric][q.culture]
            cell[0] += int(hit)
            cell[1] += 1
        lead_right = bool(p.get("short")) and is_correct(str(p["short"]), q.answers)
        mark = evidence_phrases_for(languages_of(reply) or "en").quotes[0]
        j = Judged(lang, str(p.get("wording") or "none"), p.get("confidence"), lead_right,
                   named=any(m in reply for m in (mark, "“", "«", "「", "„")))  # fmt: skip
        judged["all"].append(j)
        judged[part_of(q.id)].append(j)
        c = checks[lang]
        c["replies"] += 1
        c["loops"] += int(has_loop(reply))
        c["broken"] += int("\ufffd" in reply)
        c["sentence_end"] += int(ends_sentence(reply))
        asked = languages_of(question_text(q, lang) or "")
        said = languages_of(reply)
        if asked and said:
            c["language_known"] += 1
            c["language_same"] += int(asked == said)
        seconds[lang].append(float(p.get("seconds", 0.0)))
    report: dict[str, Any] = {}
    for lang, metrics in sorted(cells.items()):
        entry: dict[str, Any] = {}
        for metric, per in metrics.items():
            acc = {c: round(h / n, 4) for c, (h, n) in sorted(per.items()) if n}
            entry[metric] = {
                "per_culture": acc,
                "mean": round(sum(acc.values()) / len(acc), 4) if acc else 0.0,
                "min": min(acc.values()) if acc else 0.0,
            }
        c = checks[lang]
        n = max(1, c["replies"])
        times = sorted(seconds[lang])
        entry["replies"] = c["replies"]
        entry["loop_share"] = round(c["loops"] / n, 4)
        entry["broken_share"] = round(c["broken"] / n, 4)
        entry["sentence_end_share"] = round(c["sentence_end"] / n, 4)
        entry["language_share"] = (
            round(c["language_same"] / c["language_known"], 4) if c["language_known"] else None
        )
        entry["language_identified"] = c["language_known"]
        entry["seconds_p50"] = times[len(times) // 2] if times else None
        report[lang] = entry
    # Wording and confidence, over the whole run and over each part of the evaluation half
    # (`fit_wording` tunes on one, never reads the other).
    report["wording"] = {part: wording_report(rows) for part, rows in sorted(judged.items())}
    return report


def part_of(qid: str) -> str:
    """`tune` or `held-out`: the evaluation half's parts (`fit_wording.TUNE_FOLDS`)."""
    from manyshores.evidence.bank import fold_of
    from manyshores.evidence.fit_wording import TUNE_FOLDS

    return "tune" if fold_of(qid, TUNE_FOLDS) == 0 else "held-out"


# --------------------------------------------------------------------------- leak-free set-up
class NoBlendRetriever:
    """Retrieval without the knowledge base's BLEnD passages (refs `blend:`)."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner

    def retrieve(self, text: str, posterior: CulturePosterior) -> tuple[list[Source], list[str]]:
        sources, notes = self.inner.retrieve(text, posterior)
        kept = [s for s in sources if not s["ref"].startswith("blend:")]
        if len(kept) < len(sources):
            notes = [*notes, f"{len(sources) - len(kept)} BLEnD passages left out (evaluation)"]
        return kept, notes


def evaluation_components(
    settings: Settings, exclude_ids: Collection[str], home: Path
) -> Components:
    """Default components with the evaluated ids out of reach and checkpoints under `home`."""
    from manyshores.components import Components
    from manyshores.components.defaults import default_retriever
    from manyshores.evidence.index import EvidenceIndex

    run_settings = settings.model_copy(
        update={"checkpoint_db": home / "checkpoints.sqlite", "tavily_api_key": None}
    )
    components = Components(settings=run_settings)
    # The evaluated ids out of the bank: never cited, never counted, not in the learnt maps' fit.
    components.evidence = EvidenceIndex.from_package(exclude_ids=exclude_ids)
    components.retriever = NoBlendRetriever(default_retriever(components))
    return components


def graph_answerer(components: Components) -> Any:
    """A function question → `ask --json` object, each question in a new thread."""
    import uuid

    from manyshores.graph.assistant import CultureAssistant

    assistant = CultureAssistant(components)

    def answer(text: str) -> dict[str, Any]:
        return assistant.invoke(text, thread_id=f"eval-{uuid.uuid4().hex[:12]}").to_json()  # type: ignore[no-any-return]

    return answer
