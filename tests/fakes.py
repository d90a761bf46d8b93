"""Fakes of the four component protocols (`manyshores.components.protocols`): a graph built on
them runs every node without loading a model, a knowledge base or a detector.

Each fake records what it was asked, so a test can check what the nodes passed it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from manyshores.detection.follow_up import FollowUp, conversation_query
from manyshores.errors import InvalidInputError
from manyshores.experts.routing import RouteDecision, route
from manyshores.state import (
    CulturePosterior,
    ExpertAnswer,
    ExpertChoice,
    Source,
    TaskInfo,
)


def posterior_of(cultures: Mapping[str, float]) -> CulturePosterior:
    """A posterior over the given cultures (unknown when empty)."""
    ranked = sorted(cultures.items(), key=lambda kv: -kv[1])
    return {
        "cultures": [{"id": c, "p": p} for c, p in ranked],
        "ambiguous": len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 0.2,
        "unknown": not ranked,
        "signals": [],
    }


@dataclass
class FakeDetector:
    """Names a culture when the message contains one of `mentions`; options after `Options:`."""

    mentions: dict[str, str] = field(default_factory=lambda: {"Kenya": "KEN", "Japan": "JPN"})
    """Text → culture id."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """The arguments of every `detect` call."""

    def detect(self, messages, *, explicit, profile, history) -> CulturePosterior:  # noqa: ANN001
        self.calls.append({"explicit": explicit, "profile": profile, "history": history})
        if explicit:
            return posterior_of({explicit: 1.0})
        text = str(messages[-1].content)
        found = {c: 1.0 for word, c in self.mentions.items() if word in text}
        if not found and profile:
            found = dict(profile)
        total = sum(found.values()) or 1.0
        return posterior_of({c: p / total for c, p in found.items()})

    def detect_task(self, text: str) -> TaskInfo:
        question, _, options = text.partition("Options:")
        choices = [o.strip() for o in options.split(",") if o.strip()]
        name = "multiple_choice" if choices else "open_qa"
        return {"name": name, "question": question.strip(), "options": choices}

    def language_of(self, text: str) -> tuple[str, float] | None:
        return ("en", 1.0) if text.strip() else None

    def without_places(self, text: str) -> str:
        for word in self.mentions:
            text = text.replace(word, "most places")
        return text

    def places_in(self, text: str) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(start=m.start(), end=m.end(), surface=m.group())
            for word in self.mentions
            for m in re.finditer(re.escape(word), text)
        ]

    def read_follow_up(self, earlier: list[str], text: str) -> FollowUp:
        return conversation_query(earlier, text, self.places_in)

    def normalize(self, culture: str) -> str:
        known = set(self.mentions.values())
        if culture.upper() not in known:
            raise InvalidInputError(f"unknown culture {culture!r}")
        return culture.upper()


@dataclass
class FakeRetriever:
    """Returns one memory passage per call, naming the leading culture."""

    calls: list[str] = field(default_factory=list)
    """The texts it was asked about."""

    def retrieve(self, text: str, posterior: CulturePosterior) -> tuple[list[Source], list[str]]:
        self.calls.append(text)
        culture = posterior["cultures"][0]["id"] if posterior["cultures"] else "none"
        source: Source = {
            "kind": "memory",
            "ref": f"fake:{culture}",
            "snippet": f"About {culture}.",
        }
        return [source], ["fake retrieval"]


@dataclass
class FakeExpertBackend:
    """Routed by the real rules (`experts.routing.route`) over one expert per culture of the
    posterior (kind `kind`), no task adapter and no survey memory; options get a fixed
    distribution, open questions the text `<expert id> says hi`."""

    kind: str = "softprompt"
    """Kind of every chosen expert."""
    probs: list[float] | None = None
    """Option distribution every expert gives (default: all weight on the first option)."""
    batches: list[list[str]] = field(default_factory=list)
    """Expert ids of each `answer` call, in order."""
    on_answer: Callable[[list[ExpertChoice]], None] | None = None
    """Called with each batch (e.g. to fail on purpose)."""
    general_answer_languages: list[str] = field(default_factory=lambda: ["en"])
    """Languages the general answer is shown in (as `Settings.general_answer_languages`)."""
    decisions: list[RouteDecision] = field(default_factory=list)
    """Every routing decision, in order."""

    def route(
        self,
        posterior: CulturePosterior,
        task: TaskInfo,
        *,
        has_evidence: bool = False,
        language: str | None = None,
        answered: bool = False,
    ) -> RouteDecision:
        decision = route(
            posterior,
            task,
            self,
            has_evidence=has_evidence,
            language=language,
            general_languages=self.general_answer_languages,
        )
        self.decisions.append(decision)
        return decision

    def task_adapter(self, posterior: CulturePosterior, task: TaskInfo) -> ExpertChoice | None:
        return None

    def memory_decides(self) -> bool:
        return False

    def committee(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]:
        cultures = posterior["cultures"] or [{"id": "", "p": 1.0}]
        return [
            {
                "id": f"{self.kind}:{c['id'] or 'base'}",
                "culture": c["id"],
                "kind": self.kind if c["id"] else "base",
                "weight": c["p"],
                "reason": "fake",
            }
            for c in cultures
        ]

    def answer(
        self,
        choices: list[ExpertChoice],
        *,
        text: str,
        task: TaskInfo,
        sources: list[Source],
        conversation: list[dict[str, str]],
        on_token: Callable[[str], None] | None = None,
        models_needed: Callable[[], bool] | None = None,
    ) -> list[ExpertAnswer]:
        self.batches.append([c["id"] for c in choices])
        if self.on_answer is not None:
            self.on_answer(choices)
        out: list[ExpertAnswer] = []
        for c in choices:
            n = len(task["options"])
            probs = (self.probs or [1.0] + [0.0] * (n - 1)) if n else None
            said = task["options"][0] if n else f"{c['id']} says hi"
            if on_token is not None and not n:
                on_token(said)
            out.append(
                {
                    "expert_id": c["id"],
                    "culture": c["culture"],
                    "weight": c["weight"],
                    "text": said,
                    "option_probs": probs,
                    "seconds": 0.0,
                }
            )
        return out

    def aggregate(
        self, answers: list[ExpertAnswer], task: TaskInfo
    ) -> tuple[str, list[float], int | None, float, list[str]]:
        if not answers:
            return "", [], None, 0.0, ["no expert could answer"]
        if task["options"]:
            probs = list(answers[0]["option_probs"] or [])
            pick = max(range(len(probs)), key=probs.__getitem__)
            return task["options"][pick], probs, pick, 0.0, [f"{len(answers)} answers"]
        return " / ".join(a["text"] for a in answers), [], None, 0.0, []


@dataclass
class FakeEvidence:
    """Human answers for the cultures in `answers` (best first); none for any other culture."""

    answers: dict[str, list[str]] = field(default_factory=lambda: {"KEN": ["uji", "chai"]})
    """Culture id → its answers, best first."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    """(question, culture) of every `rank` call."""

    def rank(self, question, culture, *, language=None, exclude_ids=(), k=3):  # noqa: ANN001
        from manyshores.evidence.types import Candidate, Evidence

        self.calls.append((question, culture))
        found = self.answers.get(culture, [])[:k]
        ref = f"fake-evidence:{culture}"
        candidates = [
            Candidate(text=a, english=a, score=1.0 / (i + 1), support=3 - i, refs=[ref],
                      question="a question", similarity=0.9)
            for i, a in enumerate(found)
        ]  # fmt: skip
        sources: list[Source] = (
            [{"kind": "memory", "ref": ref, "snippet": ", ".join(found), "culture": culture,
              "score": 0.9}]
            if found
            else []
        )  # fmt: skip
        return Evidence(candidates, sources, bool(found), 0.9 if found else 0.0, language or "en")

    def score_options(self, question, culture, options, *, language=None, exclude_ids=()):  # noqa: ANN001
        """No everyday evidence near any option question: uniform and uninformative, so the
        experts decide (what the real scorer returns for a culture with nothing close)."""
        from manyshores.evidence.options import OptionEvidence

        n = len(options)
        return OptionEvidence([1.0 / n] * n, [None] * n, False)


@dataclass
class FakeProfileStore:
    """Profiles in a dict."""

    profiles: dict[str, dict[str, float]] = field(default_factory=dict)
    """user id → culture weights."""
    recorded: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    """Every `record` call."""

    def get(self, user_id: str) -> dict[str, float] | None:
        return self.profiles.get(user_id)

    def record(self, user_id: str, cultures: Mapping[str, float]) -> object:
        self.recorded.append((user_id, dict(cultures)))
        self.profiles[user_id] = dict(cultures)
        return self.profiles[user_id]


def fake_components(**overrides: Any) -> Any:
    """`Components` whose collaborators are fakes (no model is ever loaded: the base model
    is a sentinel that fails if anything asks for it)."""
    from manyshores.components import Components
    from manyshores.config import Settings

    class NoModel:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"a fake-component graph asked the base model for {name!r}")

    parts: dict[str, Any] = {
        "settings": Settings(tavily_api_key=None),
        "base": NoModel(),
        "detector": FakeDetector(),
        "retriever": FakeRetriever(),
        "evidence": FakeEvidence(),
        "experts": FakeExpertBackend(),
        "profiles": FakeProfileStore(),
    }
    parts.update(overrides)
    return Components(**parts)


class ScriptedText:
    """A `TextRuntime` that streams a fixed answer word by word (the in-process runtime of tests
    that need a fallback which writes real text; the tiny random model writes none)."""

    def __init__(self, text: str, name: str = "scripted") -> None:
        self.text = text
        self.name = name
        self.calls = 0

    def stream(self, messages, max_new_tokens, counts=None):
        self.calls += 1
        words = self.text.split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word
        if counts is not None:
            counts.append(len(words))

    def prompt_tokens(self, messages, reserve=0):
        return sum(len(m["content"].split()) for m in messages)
