"""`manyshores eval wvs`: survey alignment of each system against real WVS answer shares.

Systems: `base` (no culture), `prompted` (culture named in the prompt), `joint` (one soft prompt
for all cultures, culture named after it), `softprompt` (the culture's own expert; cultures
without one get their nearest experts), `memory` (no LLM: the culture's known answers to similar
questions), `experts` (the committee mixed with survey memory), `graph` (the whole graph from a
user message naming the country), and with a chat model configured (`MANYSHORES_CHAT_MODEL`):
`chat` (the graph's survey decision with the chat model's option probabilities for a persona of
the country, `survey.decision.decide` with the model's calibrated weight) and `chat_alone` (the
model's probabilities by themselves). Every system answers with the option nearest its
distribution's expected position (options are ordinal), `experts` and `chat` with the decision's. A (country, question) pair that cannot be asked or
scored (a question missing from the questions file, blank text, shares that do not fit its
options) is skipped and counted in `WvsEvaluator.skipped`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from manyshores.cultures import nearest_cultures
from manyshores.errors import InvalidInputError
from manyshores.eval.skips import Skips, bad_shares, unaskable
from manyshores.experts.persona.model import culture_name
from manyshores.survey.decision import (
    Calibration,
    decide,
    expected_position_choice,
    memory_lookup,
    mixture,
)

if TYPE_CHECKING:
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.runtime.base_model import BaseModel
    from manyshores.runtime.chat_options import ChatOptionScorer
    from manyshores.state import ExpertChoice
    from manyshores.survey.data import SurveyQuestion
    from manyshores.survey.memory import SurveyMemory

SYSTEMS = (
    "base",
    "prompted",
    "joint",
    "softprompt",
    "memory",
    "experts",
    "graph",
    "chat",
    "chat_alone",
)
CHAT_SYSTEMS = frozenset({"chat", "chat_alone"})
JOINT_ID = "wvs-joint-softprompt"


@dataclass
class WvsEvaluator:
    """Predicts every (country, question) pair of a data file with the requested systems."""

    base: BaseModel | None
    """The base model (None when only `memory` is evaluated)."""
    registry: ExpertRegistry | None
    """Experts to use."""
    memory: SurveyMemory
    """Known answers (the train split)."""
    calibration: Calibration = field(default_factory=Calibration)
    """The `experts` combination (the expert set's, `ExpertRegistry.calibration()`)."""
    skipped: Skips = field(default_factory=Skips)
    """The pairs the last `predict` could not ask or score, with why."""
    chat: ChatOptionScorer | None = None
    """The configured chat model's option probabilities (systems `chat`, `chat_alone`)."""
    chat_weight: float = 0.0
    """Its calibrated survey weight (`survey.chat_calibration`)."""

    def expert_choices(self, culture: str) -> list[ExpertChoice]:
        """The culture's own soft-prompt expert, else its nearest cultures' experts."""
        assert self.registry is not None
        own = self.registry.for_culture(culture, "softprompt")
        if own is not None:
            return [
                {
                    "id": own.id,
                    "culture": culture,
                    "kind": "softprompt",
                    "weight": 1.0,
                    "reason": "own",
                }
            ]
        near = nearest_cultures(culture, self.registry.cultures("softprompt"))
        if not near:
            raise InvalidInputError("no soft-prompt experts are available")
        total = sum(s for _, s in near) or 1.0
        out: list[ExpertChoice] = []
        for c, s in near:
            info = self.registry.for_culture(c, "softprompt")
            assert info is not None
            out.append(
                {
                    "id": info.id,
                    "culture": c,
                    "kind": "softprompt",
                    "weight": s / total,
                    "reason": f"nearest to {culture}",
                }
            )
        return out

    def memory_probs(self, culture: str, q: SurveyQuestion) -> list[float]:
        """Memory of the culture, else the similarity-weighted memories of its nearest cultures
        (`decision.memory_lookup`; no similarity floor: every question here is a survey one)."""
        found = memory_lookup(
            self.memory,
            [(culture, 1.0)],
            q.question,
            q.options,
            floor=None,
            exclude={q.id},
            qid=q.id,
            params=self.calibration.memory_params(),
        )
        if found is None:
            raise InvalidInputError(f"survey memory knows no answers for {culture} or near it")
        return found.probs

    def predict(
        self,
        questions: dict[str, SurveyQuestion],
        data: dict[str, dict[str, list[float]]],
        systems: list[str],
        progress: Callable[[int, int], None] | None = None,
        skip: set[str] | frozenset[str] = frozenset(),
        on_records: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """One record per system, country and question: system, country, qid, probs, choice.

        Questions in `skip` are not predicted (a resumed run); `on_records` receives each
        question's records as soon as they exist (to save progress).
        """
        unknown = [s for s in systems if s not in SYSTEMS]
        if unknown:
            raise InvalidInputError(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
        if "joint" in systems and (
            self.registry is None or JOINT_ID not in {i.id for i in self.registry.available()}
        ):
            raise InvalidInputError(
                f"system `joint` needs the joint expert {JOINT_ID!r}: train it "
                "with `python -m manyshores.experts.train_defaults --joint`"
            )
        if CHAT_SYSTEMS & set(systems) and self.chat is None:
            raise InvalidInputError(
                "systems `chat` and `chat_alone` need a chat model: set MANYSHORES_CHAT_MODEL "
                "(and MANYSHORES_CHAT_MODEL_BASE_URL for a local server)"
            )
        graph = _graph_runner() if "graph" in systems else None
        self.skipped = Skips()
        by_q: dict[str, list[str]] = {}
        for country, answers in data.items():
            if not isinstance(answers, dict):
                self.skipped.add("not a {question: shares} object", country=country)
                continue
            for qid, shares in answers.items():
                why = _problem(questions.get(qid), shares)
                if why is not None:
                    self.skipped.add(why, country=country, qid=qid)
                    continue
                by_q.setdefault(qid, []).append(country)
        records: list[dict[str, Any]] = []
        for n, (qid, countries) in enumerate(sorted(by_q.items()), 1):
            if qid not in skip:
                recs = self._question(questions[qid], countries, systems, graph)
                records.extend(recs)
                if on_records:
                    on_records(recs)
            if progress:
                progress(n, len(by_q))
        return records

    def _question(
        self,
        q: SurveyQuestion,
        countries: list[str],
        systems: list[str],
        graph: Callable[[str, SurveyQuestion], tuple[list[float], int]] | None,
    ) -> list[dict[str, Any]]:
        from manyshores.experts.committee import Committee

        out: dict[tuple[str, str], list[float]] = {}
        decided: dict[tuple[str, str], int] = {}
        opts = list(q.options)
        llm = {"base", "joint", "softprompt", "prompted"} & set(systems)
        if llm or ("experts" in systems and self.calibration.expert_weight > 0):
            assert self.base is not None
            committee = Committee(self.base, self.registry)
            choices: list[ExpertChoice] = []
            if "base" in systems:
                choices.append(
                    {"id": "base", "culture": "", "kind": "base", "weight": 1.0, "reason": "base"}
                )
            # The `experts` system needs the soft prompts only when they carry weight.
            experts_run = "experts" in systems and self.calibration.expert_weight > 0
            per_country = (
                {c: self.expert_choices(c) for c in countries}
                if "softprompt" in systems or experts_run
                else {}
            )
            needed = {ch["id"]: ch for chs in per_country.values() for ch in chs}
            choices.extend(needed.values())
            if "joint" in systems:
                choices.extend(
                    {
                        "id": JOINT_ID,
                        "culture": c,
                        "kind": "softprompt",
                        "weight": 1.0,
                        "reason": "joint",
                    }
                    for c in countries
                )
            if "prompted" in systems:
                choices.extend(
                    {
                        "id": f"persona:{c}",
                        "culture": c,
                        "kind": "persona",
                        "weight": 1.0,
                        "reason": "prompted",
                    }
                    for c in countries
                )
            answers = committee.score_options(q.question, opts, None, choices)
            by_id = {(a["expert_id"], a["culture"]): a["option_probs"] or [] for a in answers}
            for c in countries:
                if "base" in systems:
                    out[("base", c)] = by_id[("base", "")]
                if "joint" in systems:
                    out[("joint", c)] = by_id[(JOINT_ID, c)]
                if "prompted" in systems:
                    out[("prompted", c)] = by_id[(f"persona:{c}", c)]
                if c in per_country:
                    chs = per_country[c]
                    sp = mixture(
                        [by_id[(ch["id"], ch["culture"])] for ch in chs],
                        [ch["weight"] for ch in chs],
                    )
                    out[("softprompt", c)] = sp
        for c in countries:
            if {"memory", "experts"} & set(systems):
                mem = self.memory_probs(c, q)
                out[("memory", c)] = mem
                if "experts" in systems:
                    decision = decide(out.get(("softprompt", c)), mem, self.calibration)
                    out[("experts", c)] = decision.probs
                    decided[("experts", c)] = decision.choice
            if graph is not None:
                out[("graph", c)], decided[("graph", c)] = graph(c, q)
        if CHAT_SYSTEMS & set(systems):
            for c, probs in self._chat_probs(q, countries).items():
                if "chat_alone" in systems:
                    out[("chat_alone", c)] = probs
                if "chat" in systems:
                    mem = out.get(("memory", c)) or self.memory_probs(c, q)
                    experts = out.get(("softprompt", c)) if self.calibration.expert_weight else None
                    decision = decide(experts, mem, self.calibration, probs, self.chat_weight)
                    out[("chat", c)] = decision.probs
                    decided[("chat", c)] = decision.choice
        return [
            {
                "system": s,
                "country": c,
                "qid": q.id,
                "probs": [round(x, 6) for x in p],
                "choice": decided.get((s, c), expected_position_choice(p)),
            }
            for (s, c), p in out.items()
            if s in systems
        ]

    def _chat_probs(self, q: SurveyQuestion, countries: list[str]) -> dict[str, list[float]]:
        """The chat model's distribution for a persona of each country (as the graph asks it,
        `components.chat_experts`); a country whose request failed is skipped, with why."""
        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        from manyshores.experts.persona.model import PersonaExpert
        from manyshores.experts.types import ExpertInfo
        from manyshores.runtime.scoring import survey_messages
        from manyshores.runtime.text import TextRuntimeError

        assert self.chat is not None
        scorer = self.chat

        def one(country: str) -> list[float] | str:
            persona = PersonaExpert(ExpertInfo(f"chat:{country}", country, "persona", ["*"]))
            messages = survey_messages(q.question, list(q.options), None, persona.instruction())
            try:
                return scorer.score(messages, list(q.options)).probs
            except TextRuntimeError as exc:
                return str(exc)

        with ThreadPoolExecutor(max_workers=max(1, min(4, len(countries)))) as pool:
            found = list(pool.map(lambda c: contextvars.copy_context().run(one, c), countries))
        out: dict[str, list[float]] = {}
        for country, result in zip(countries, found, strict=True):
            if isinstance(result, str):
                self.skipped.add(f"chat model failed: {result[:120]}", country=country, qid=q.id)
            else:
                out[country] = result
        return out


def subset(
    data: dict[str, dict[str, list[float]]], limit: int | None, countries: str | None = None
) -> dict[str, dict[str, list[float]]]:
    """The first `limit` question ids of `data` (sorted, the same for every country) and only
    the comma-separated `countries`; all of it when both are None."""
    wanted = {c.strip() for c in (countries or "").split(",") if c.strip()}
    kept = {c: a for c, a in data.items() if not wanted or c in wanted}
    if wanted - set(kept):
        raise InvalidInputError(f"no data for countries {sorted(wanted - set(kept))}")
    if limit is None:
        return kept
    qids = set(sorted({q for a in kept.values() if isinstance(a, dict) for q in a})[:limit])
    return {
        c: {q: v for q, v in a.items() if q in qids} if isinstance(a, dict) else a
        for c, a in kept.items()
    }


def _problem(q: SurveyQuestion | None, shares: object) -> str | None:
    """Why a (country, question) pair cannot be asked or scored, or None when it can."""
    if q is None:
        return "question not in the questions file"
    if len(q.options) < 2 or not all(isinstance(o, str) and o.strip() for o in q.options):
        return "fewer than two options, or a blank one"
    return unaskable(q.question) or bad_shares(shares, len(q.options))


def _graph_runner() -> Callable[[str, SurveyQuestion], tuple[list[float], int]]:
    """The whole graph on a user message that names the country and lists the options.

    Returns the graph's option distribution and the option it answered with."""
    try:
        from manyshores.graph.assistant import CultureAssistant
    except ImportError as exc:
        raise InvalidInputError(f"system `graph` is not available yet: {exc}") from exc
    assistant = CultureAssistant()

    def run(country: str, q: SurveyQuestion) -> tuple[list[float], int]:
        opts = "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(q.options))
        text = (
            f"I live in {culture_name(country)}. {q.question}\n{opts}\n"
            "Which option would most people here choose?"
        )
        result = assistant.invoke(text)
        probs = list(
            getattr(result, "option_probs", None) or result.to_json().get("option_probs") or []
        )
        choice = result.values.get("choice")
        if len(probs) != len(q.options):  # the graph did not see a multiple-choice task
            probs, choice = [1.0 / len(q.options)] * len(q.options), None
        total = sum(probs) or 1.0
        probs = [p / total for p in probs]
        if not isinstance(choice, int) or not 0 <= choice < len(probs):
            choice = expected_position_choice(probs)
        return probs, choice

    return run


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    return fn(), time.perf_counter() - start
