"""The survey weight of a configured chat model: `manyshores experts calibrate --chat-model`.

The chat model's option probabilities (a persona of each country, asked as the graph asks it:
`components.chat_experts`) join survey memory as `memory * chat**w` (`survey.decision.decide`).
`w` is chosen from `WEIGHT_GRID` by question-fold cross-validation on the dev answers
(`calibrate.cross_validate`: the setting best on the other folds, scored on the held-out fold,
repeated with reshuffled folds), with survey memory's parameters and the answer rule of the
expert set's calibration; the trained experts are left out (the shipped set's weight is 0).
The model never saw these answers, and memory leaves the asked question out, so every row is
out of sample for both. The held-out figures are reported beside plain survey memory and the
chat model alone, and stored with the weight (`survey.chat_calibration`).

The model's distributions are cached per model and server (`--cache`), so a rerun (another
seed, more repeats) asks nothing again; `--limit` takes the first N dev questions.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError
from manyshores.eval.metrics.survey import expected_position_choice
from manyshores.eval.runners.calibrate import WEIGHT_GRID, Row, cross_validate, mean_scores
from manyshores.survey.chat_calibration import ChatCalibration
from manyshores.survey.decision import Calibration, decide, memory_lookup

if TYPE_CHECKING:
    from manyshores.runtime.chat_options import ChatOptionScorer
    from manyshores.survey.data import SurveyQuestion
    from manyshores.survey.memory import SurveyMemory

DEFAULT_CHAT_CACHE = Path.home() / ".cache/manyshores/calibrate_chat"
"""Directory of the chat models' cached distributions, one file per model and server."""


def cache_file(root: Path, spec: str, base_url: str | None) -> Path:
    key = hashlib.sha256(f"{spec}|{base_url or ''}".encode()).hexdigest()[:16]
    return root / f"{key}.json"


def chat_distributions(
    scorer: ChatOptionScorer,
    questions: dict[str, SurveyQuestion],
    pairs: list[tuple[str, str]],
    cache: Path,
    progress: bool = True,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, int]]:
    """`{qid: {country: probs}}` for every (country, qid) pair, asked once and cached; and how
    many pairs each method served (`logprobs`, `sampling`, `failed`)."""
    from tqdm import tqdm

    from manyshores.experts.persona.model import PersonaExpert
    from manyshores.experts.types import ExpertInfo
    from manyshores.runtime.scoring import survey_messages
    from manyshores.runtime.text import TextRuntimeError

    raw = json.loads(cache.read_text()) if cache.is_file() else {}
    data: dict[str, dict[str, list[float]]] = raw.get("chat", {})
    methods: dict[str, int] = dict(raw.get("methods", {}))
    todo = [(c, q) for c, q in pairs if c not in data.get(q, {})]

    def one(pair: tuple[str, str]) -> tuple[str, str, list[float] | None, str]:
        country, qid = pair
        q = questions[qid]
        persona = PersonaExpert(ExpertInfo(f"chat:{country}", country, "persona", ["*"]))
        messages = survey_messages(q.question, list(q.options), None, persona.instruction())
        try:
            found = scorer.score(messages, list(q.options))
        except TextRuntimeError:
            return country, qid, None, "failed"
        return country, qid, found.probs, found.method

    def save() -> None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"spec": scorer.chat.spec, "chat": data, "methods": methods}))
        tmp.replace(cache)

    with (
        ThreadPoolExecutor(max_workers=4) as pool,
        tqdm(total=len(todo), disable=not progress, desc="chat model distributions") as bar,
    ):
        run: Callable[[tuple[str, str]], Any] = lambda p: contextvars.copy_context().run(one, p)  # noqa: E731
        for n, (country, qid, probs, method) in enumerate(pool.map(run, todo), 1):
            methods[method] = methods.get(method, 0) + 1
            if probs is not None:
                data.setdefault(qid, {})[country] = probs
            bar.update(1)
            if n % 20 == 0:
                save()
    save()
    return data, methods


def calibrate_chat(
    scorer: ChatOptionScorer,
    memory: SurveyMemory,
    calibration: Calibration,
    dev_path: Path,
    cache_dir: Path = DEFAULT_CHAT_CACHE,
    *,
    base_url: str | None = None,
    previous: ChatCalibration | None = None,
    limit: int | None = None,
    repeats: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> tuple[ChatCalibration, dict[str, Any]]:
    """The chat model's survey weight (on `previous`, which keeps its other fields) and the
    cross-validation's report (see the module docstring)."""
    from manyshores.eval.runners.wvs import subset
    from manyshores.survey.data import load_questions, load_split

    questions = load_questions()
    dev = subset(load_split(dev_path), limit)
    pairs = sorted((c, q) for c, a in dev.items() for q in a if q in questions)
    if not pairs:
        raise InvalidInputError(f"no dev questions to calibrate on in {dev_path}")
    cache = cache_file(cache_dir, scorer.chat.spec, base_url)
    chat, methods = chat_distributions(scorer, questions, pairs, cache, progress)
    params = calibration.memory_params()
    rows: list[Row] = []
    for country, qid in pairs:
        probs = chat.get(qid, {}).get(country)
        if probs is None:
            continue  # the model failed on it: counted in `methods`
        q = questions[qid]
        found = memory_lookup(
            memory, [(country, 1.0)], q.question, q.options, floor=None, exclude={qid}, qid=qid,
            params=params,
        )  # fmt: skip
        if found is not None:
            rows.append(Row(country, qid, list(dev[country][qid]), probs, found.probs))
    if not rows:
        raise InvalidInputError("the chat model answered no dev question: nothing to calibrate")
    sharpen = calibration.choice_sharpen

    def with_weight(w: float) -> Callable[[Row], tuple[list[float], int]]:
        def predict(r: Row) -> tuple[list[float], int]:
            d = decide(None, r.memory, calibration, r.expert, w)
            return d.probs, d.choice

        return predict

    memory_alone = with_weight(0.0)

    def chat_alone(r: Row) -> tuple[list[float], int]:
        assert r.expert is not None
        return r.expert, expected_position_choice(r.expert)

    cv = cross_validate(
        lambda s: rows,
        [{"chat_weight": w} for w in WEIGHT_GRID],
        lambda s: with_weight(s["chat_weight"]),
        memory_alone,
        folds=min(5, len({r.qid for r in rows})),  # no empty held-out fold on a small subset
        repeats=repeats,
        seed=seed,
    )
    weight = float(cv["chosen"]["chat_weight"])
    report: dict[str, Any] = {
        "spec": scorer.chat.spec,
        "rows": len(rows),
        "methods": methods,
        "choice_sharpen": sharpen,
        "cross_validation": cv,
        "all_rows": {
            "memory": mean_scores(rows, memory_alone),
            "chat_alone": mean_scores(rows, chat_alone),
            "memory_and_chat": mean_scores(rows, with_weight(weight)),
        },
    }
    measured = {
        "method": f"question-fold CV on {dev_path.name}, {cv['folds']} folds x {repeats} repeats",
        "rows": len(rows),
        "held_out": cv["held_out"],
        "memory_held_out": cv["baseline_held_out"],
        "chat_alone": report["all_rows"]["chat_alone"],
    }
    chosen = (previous or ChatCalibration(scorer.chat.spec)).with_measure(
        "survey", survey_weight=weight, measured=measured
    )
    return replace(chosen, base_url=base_url or ""), report
