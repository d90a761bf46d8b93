"""Which experts answer a turn: one decision, with its path and its reason.

    decision = route(posterior, task, RegistryPicker(lambda: registry), has_evidence=False)
    decision.path      # "evidence" | "survey_memory" | "experts" | "task_adapter" | "general"
    decision.experts   # the choices the expert step runs (each carries the path)
    decision.reason    # one line for the trace

The rules, in order:
1. an open question with people's answers to it → `evidence` (the reply cites them, no expert);
2. an open question in a language the base model's text is not shown in → `general` with no
   expert (nothing is generated); likewise a request that is not a short fact (`TaskInfo.request`:
   a text to write, advice, a comparison…) when no model that writes such text is configured
   (`writes_requests`: the reply says it cannot do this well);
3. no culture in play (`state.culture_in_play`) → `general`: the bare base model, culture-neutral;
4. an open question → the culture's task adapter for the detected task (`task_adapter`), else
   `general` for that culture: a persona's text is never presented as the culture's own;
5. an option question → the plausible cultures' experts (`route_experts`); when the calibration
   gives them no weight, `survey_memory`: the cultures' known answers stand in for them whenever
   memory knows the question, and the experts run only when it does not. With a chat model
   configured (`chat_options`), one chat-model expert per plausible culture joins them
   (`chat_choices`: its option probabilities, `runtime.chat_options`).

With a chat model configured (`grounds`), rules 1 and 4 change for a culture in play: an open
question goes to `grounded`, one persona per plausible culture over the chat model, each
writing from its culture's numbered evidence (`grounded_choices`) — unless it is a short fact
whose evidence answers this very question (`answered`), which the evidence reply states.

`route_task_experts` is CultureManager's router by posterior *and* task, extended with this
project's fallbacks:
1. a confident culture (top p >= `min_p`) with a task adapter for the task → that adapter;
2. a confident culture with no task adapter → the culture's general expert (soft prompt first,
   then any other expert of that culture without a task);
3. otherwise (ambiguous posterior, or no expert for the culture) → a committee over the
   plausible cultures (p >= `committee_min_p`), each represented by its task adapter when it
   has one, else its general expert; weights are their posterior shares renormalised. An empty
   committee means "no expert": the graph answers with its own committee / base model.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from manyshores.cultures import nearest_cultures
from manyshores.experts.committee import BASE_ID
from manyshores.experts.kinds import capabilities
from manyshores.state import culture_in_play

if TYPE_CHECKING:
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.experts.types import ExpertInfo
    from manyshores.state import CulturePosterior, ExpertChoice, RoutePath, TaskInfo

RouteLevel = Literal["task", "culture", "committee"]

EXPERT_MIN_CULTURE_P = 0.1
"""Cultures below this posterior get no expert of their own."""
EXPERT_MAX_CULTURES = 3
"""At most this many cultures of the posterior are served."""


@dataclass(frozen=True)
class RouteDecision:
    """How one turn is answered."""

    path: RoutePath
    """Which way the turn goes (see `state.RoutePath`)."""
    experts: list[ExpertChoice]
    """The choices the expert step runs, each carrying `path`; empty when no model text is
    needed (evidence) or none would be shown."""
    reason: str
    """Why, in one line."""


class ExpertPicker(Protocol):
    """The experts `route` can choose from (a registry's, or a test's)."""

    def task_adapter(self, posterior: CulturePosterior, task: TaskInfo) -> ExpertChoice | None:
        """The confident culture's adapter for the task, as the only expert, or None."""
        ...

    def committee(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]:
        """The plausible cultures' experts for an option question (weights sum to 1)."""
        ...

    def memory_decides(self) -> bool:
        """Whether survey memory alone decides whenever it knows the question (the calibration
        gives the experts no weight)."""
        ...


def general_choice(culture: str, reason: str) -> ExpertChoice:
    """The bare base model, answering in general terms (its text is shown as general)."""
    return {
        "id": BASE_ID,
        "culture": culture,
        "kind": "base",
        "weight": 1.0,
        "reason": reason,
        "path": "general",
    }


def _decision(path: RoutePath, experts: list[ExpertChoice], reason: str) -> RouteDecision:
    """The decision, with its path stamped on every choice (the expert step reads it there)."""
    stamped: list[ExpertChoice] = []
    for choice in experts:
        one: ExpertChoice = {**choice}
        one["path"] = path
        stamped.append(one)
    return RouteDecision(path, stamped, reason)


def route(
    posterior: CulturePosterior,
    task: TaskInfo,
    picker: ExpertPicker,
    *,
    has_evidence: bool = False,
    language: str | None = None,
    general_languages: Collection[str] = ("*",),
    writes_requests: bool = False,
    answered: bool = False,
    grounds: bool = False,
    chat_options: bool = False,
) -> RouteDecision:
    """Decide how the turn is answered; see the module docstring for the rules.

    `has_evidence`: people's answers to this open question were found; `general_languages`: the
    languages the base model's general text is shown in (`*`: all); `writes_requests`: a model
    that writes texts, advice and comparisons well is configured (a chat model); `answered`:
    the evidence answers this very question (worded `answer`); `grounds`: that model writes
    open replies from the evidence; `chat_options`: it scores options too."""
    if not task["options"]:
        request = task.get("request", "fact")
        visible = "*" in general_languages or language in general_languages
        stated = has_evidence and answered and request == "fact"  # the evidence's own answer
        if grounds and visible and culture_in_play(posterior) and not stated:
            choices = grounded_choices(posterior)
            why = (
                f"a {request} request: the chat model writes from the evidence of "
                f"{len(choices)} culture(s), citing it"
            )
            return _decision("grounded", choices, why)
        if has_evidence:
            return _decision("evidence", [], "people's answers to the question: cited, no model")
        # With no culture in play the base model's text is a general answer, labelled as such
        # (as for any question); for a culture, its weak free text would pass as the culture's.
        if request != "fact" and not writes_requests and culture_in_play(posterior):
            why = f"a {request} request the base model cannot do well: none is generated"
            return _decision("general", [], why)
        if "*" not in general_languages and language not in general_languages:
            shown = language or "an unknown language"
            why = f"the base model's text is not shown in {shown}: none is generated"
            return _decision("general", [], why)
    if not culture_in_play(posterior):
        why = "no culture in the message: general"
        return _decision("general", [general_choice("", why)], why)
    if not task["options"]:
        adapter = picker.task_adapter(posterior, task)
        if adapter is not None:
            return _decision("task_adapter", [adapter], adapter["reason"])
        # No evidence for this culture: a general answer, shown as such, not a persona's text
        # presented as the culture's own.
        why = "no evidence: general answer"
        return _decision("general", [general_choice(posterior["cultures"][0]["id"], why)], why)
    experts = picker.committee(posterior, task)
    if chat_options:
        experts = [*experts, *chat_choices(posterior)]
    if picker.memory_decides():
        why = "the experts carry no weight: survey memory answers when it knows the question"
        return _decision("survey_memory", experts, why)
    return _decision("experts", experts, f"{len(experts)} experts of the plausible cultures")


CHAT_PREFIX = "chat:"
"""Expert ids of a chat model's option probabilities for a culture (`chat:KOR`)."""


def plausible(posterior: CulturePosterior) -> list[tuple[str, float]]:
    """The cultures that get an expert of their own, with their posterior shares renormalised
    (`EXPERT_MIN_CULTURE_P`, at most `EXPERT_MAX_CULTURES`; the top one when none qualifies)."""
    picked = [c for c in posterior["cultures"] if c["p"] >= EXPERT_MIN_CULTURE_P]
    picked = picked[:EXPERT_MAX_CULTURES] or posterior["cultures"][:1]
    total = sum(c["p"] for c in picked) or 1.0
    return [(c["id"], c["p"] / total) for c in picked]


def grounded_choices(posterior: CulturePosterior) -> list[ExpertChoice]:
    """One persona per plausible culture over the chat model, weighted by the posterior: each
    writes from its culture's evidence, and aggregate keeps the answer they agree on most."""
    return [
        {
            "id": f"persona:{culture}",
            "culture": culture,
            "kind": "persona",
            "weight": weight,
            "reason": "posterior: writes from its culture's evidence",
        }
        for culture, weight in plausible(posterior)
    ]


def chat_choices(posterior: CulturePosterior) -> list[ExpertChoice]:
    """One chat-model expert per plausible culture for an option question (its option
    probabilities), weighted by the posterior."""
    return [
        {
            "id": f"{CHAT_PREFIX}{culture}",
            "culture": culture,
            "kind": "chat",
            "weight": weight,
            "reason": "posterior: the chat model's option probabilities",
        }
        for culture, weight in plausible(posterior)
    ]


class RegistryPicker:
    """The experts of the registry, as `route` asks for them; the registry is built only when a
    rule needs it (a general answer or an evidence reply never waits for it)."""

    def __init__(self, registry: Callable[[], ExpertRegistry]) -> None:
        self._registry = registry

    def task_adapter(self, posterior: CulturePosterior, task: TaskInfo) -> ExpertChoice | None:
        dist = {c["id"]: c["p"] for c in posterior["cultures"]}
        found = route_task_experts(self._registry(), dist, task["name"])
        if found.level != "task":
            return None  # a general expert or a committee: not for an open question
        culture = max(dist, key=lambda c: dist[c])
        return {
            "id": found.expert_ids[0],
            "culture": culture,
            "kind": "lora",
            "weight": 1.0,
            "reason": f"task adapter: {found.reason}",
        }

    def committee(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]:
        return route_experts(posterior, task, self._registry())

    def memory_decides(self) -> bool:
        return not self._registry().calibration().needs_experts(memory_answered=True)


def route_experts(
    posterior: CulturePosterior,
    task: TaskInfo | None,
    registry: ExpertRegistry,
    kind: str = "softprompt",
) -> list[ExpertChoice]:
    """Experts for the plausible cultures: their own expert, else their nearest cultures' experts
    weighted by similarity, else a persona. Weights sum to 1; none for an empty posterior."""
    picked = [c for c in posterior["cultures"] if c["p"] >= EXPERT_MIN_CULTURE_P][
        :EXPERT_MAX_CULTURES
    ]
    picked = picked or posterior["cultures"][:1]
    with_expert = registry.cultures(kind)
    weights: dict[str, float] = {}
    choices: dict[str, ExpertChoice] = {}
    for c in picked:
        own = registry.for_culture(c["id"], kind)
        if own is not None:
            targets = [(own.id, own.culture, c["p"], "posterior", own.kind)]
        elif with_expert:
            near = nearest_cultures(c["id"], with_expert)
            total = sum(s for _, s in near) or 1.0
            targets = []
            for culture, s in near:
                info = registry.for_culture(culture, kind)
                assert info is not None
                targets.append(
                    (info.id, culture, c["p"] * s / total, f"nearest to {c['id']}", info.kind)
                )
        else:
            targets = [
                (f"persona:{c['id']}", c["id"], c["p"], "posterior (no trained expert)", "persona")
            ]
        for eid, culture, w, reason, k in targets:
            weights[eid] = weights.get(eid, 0.0) + w
            choices.setdefault(
                eid, {"id": eid, "culture": culture, "kind": k, "weight": 0.0, "reason": reason}
            )
    total = sum(weights.values()) or 1.0
    out = []
    for eid, ch in choices.items():
        ch["weight"] = weights[eid] / total
        out.append(ch)
    return sorted(out, key=lambda c: -c["weight"])


@dataclass
class TaskRoute:
    """Which experts answer, at which level of the fallback chain, and why."""

    level: RouteLevel
    """`task` (the culture's task adapter), `culture` (its general expert) or `committee`."""
    expert_ids: list[str]
    """Experts to run, best first."""
    weights: list[float] = field(default_factory=list)
    """Combination weights (sum to 1) for a committee; `[1.0]` for a single expert."""
    reason: str = ""
    """One line for the trace."""


def task_adapter_for(registry: ExpertRegistry, culture: str, task: str) -> ExpertInfo | None:
    """The culture's LoRA adapter trained for `task` (user store and latest id preferred)."""
    found = [i for i in registry.available("lora") if i.culture == culture and task in i.tasks]
    found.sort(key=lambda i: (not i.shipped, i.id))
    return found[-1] if found else None


def general_expert_for(registry: ExpertRegistry, culture: str) -> ExpertInfo | None:
    """The culture's general expert: its soft prompt, else any expert not tied to one task."""
    soft = registry.for_culture(culture, "softprompt")
    if soft is not None:
        return soft
    others = [
        i
        for i in registry.available()
        if i.culture == culture
        and capabilities(i.kind).stored
        and (not i.tasks or "multiple_choice" in i.tasks or "*" in i.tasks)
    ]
    others.sort(key=lambda i: (not i.shipped, i.id))
    return others[-1] if others else None


def route_task_experts(
    registry: ExpertRegistry,
    posterior: Mapping[str, float],
    task: str,
    *,
    min_p: float = 0.6,
    committee_min_p: float = 0.1,
    max_committee: int = 4,
) -> TaskRoute:
    """Choose experts for `task` given the culture posterior; see the module docstring."""
    ranked = sorted(((c, p) for c, p in posterior.items() if p > 0), key=lambda cp: -cp[1])
    if ranked and ranked[0][1] >= min_p:
        culture, p = ranked[0]
        adapter = task_adapter_for(registry, culture, task)
        if adapter is not None:
            return TaskRoute(
                "task", [adapter.id], [1.0], f"{culture} (p={p:.2f}) has a {task} adapter"
            )
        general = general_expert_for(registry, culture)
        if general is not None:
            return TaskRoute(
                "culture",
                [general.id],
                [1.0],
                f"{culture} (p={p:.2f}) has no {task} adapter; its general expert",
            )
    members: list[tuple[str, float]] = []
    for culture, p in ranked:
        if p < committee_min_p or len(members) >= max_committee:
            break
        info = task_adapter_for(registry, culture, task) or general_expert_for(registry, culture)
        if info is not None:
            members.append((info.id, p))
    total = sum(p for _, p in members) or 1.0
    why = "ambiguous culture" if not ranked or ranked[0][1] < min_p else "no expert for the culture"
    return TaskRoute(
        "committee",
        [i for i, _ in members],
        [p / total for _, p in members],
        f"{why}: committee of {len(members)}",
    )
