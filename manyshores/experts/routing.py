"""Picking experts by culture posterior *and* task, for the graph's route node.

    route = route_task_experts(registry, {"MEX": 0.8, "ESP": 0.2}, "everyday_qa")
    route.level        # "task" | "culture" | "committee"
    route.expert_ids   # experts to run; with level "committee" the weights combine their answers

Order of preference (CultureManager's router, extended with this project's fallbacks):
1. a confident culture (top p >= `min_p`) with a task adapter for the task → that adapter;
2. a confident culture with no task adapter → the culture's general expert (soft prompt first,
   then any other expert of that culture without a task);
3. otherwise (ambiguous posterior, or no expert for the culture) → a committee over the
   plausible cultures (p >= `committee_min_p`), each represented by its task adapter when it
   has one, else its general expert; weights are their posterior shares renormalised. An empty
   committee means "no expert": the graph answers with its own committee / base model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from manyshores.experts.kinds import capabilities

if TYPE_CHECKING:
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.experts.types import ExpertInfo

RouteLevel = Literal["task", "culture", "committee"]


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
