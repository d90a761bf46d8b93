"""The graph's expert backend: routing, a batch of experts answering, and aggregation.

It puts the expert machinery of `manyshores.experts` behind the graph's `ExpertBackend` protocol:
`route_experts` picks each plausible culture's own expert, else its nearest cultures' experts,
else a persona; `Committee` runs a batch sharing all it can (one KV cache of the shared prompt
for soft prompts, one mixed batch for LoRA); options are mixed by router weight and, for
questions close to a known survey question, with the culture's known answers (survey memory),
the `experts` system of `manyshores eval wvs`.

An open question whose culture is clear goes first to that culture's task adapter for the
detected task (`manyshores.synthesis.routing.route_task_experts`, level `task`), which answers
with the prompt it was trained on (`synthesis.prompts.task_messages`, retrieved passages as
notes); without one, routing is unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from manyshores.experts.aggregate import (
    aggregate_options,
    aggregate_text,
    mixture,
    product_with_memory,
    route_experts,
)
from manyshores.experts.committee import expert_answer
from manyshores.experts.decision import (
    CHOICE_SHARPEN,
    EXPERT_WEIGHT,
    MEMORY_MIN_SIMILARITY,
    expected_position_choice,
)
from manyshores.experts.scoring import survey_messages
from manyshores.web.sanitize import format_context_block

if TYPE_CHECKING:
    from manyshores.components import Components
    from manyshores.state import CulturePosterior, ExpertAnswer, ExpertChoice, Source, TaskInfo

TASK_ADAPTER_REASON = "task adapter: "
"""Prefix of the router reason of a (culture, task) adapter choice."""


def expert_messages(
    task: TaskInfo, sources: list[Source], conversation: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The chat the experts answer (personas add their own system prompt in the committee).

    Retrieved text goes into the user turn, fenced as quoted data, never into a system prompt.
    """
    context = format_context_block(sources)
    if task["options"]:
        return survey_messages(task["question"], task["options"], context or None)
    turns = [dict(m) for m in conversation if m["role"] != "system"]
    if context and turns and turns[-1]["role"] == "user":
        turns[-1]["content"] = f"{context}\n\n{turns[-1]['content']}"
    return turns


class CommitteeBackend:
    """`ExpertBackend` over the expert registry, the committee and survey memory."""

    def __init__(self, components: Components) -> None:
        self.components = components
        self._lock = threading.Lock()
        self._parts: dict[str, Any] = {}

    def _part(self, name: str) -> Any:
        with self._lock:
            return self._get_unlocked(name)

    def _build(self, name: str) -> Any:
        if name == "registry":
            from manyshores.experts.registry import ExpertRegistry

            return ExpertRegistry.from_settings(
                self.components.settings, self.components.get_base()
            )
        if name == "committee":
            from manyshores.experts.committee import Committee
            from manyshores.experts.engine import text_runtime

            base = self.components.get_base()
            return Committee(
                base,
                self._get_unlocked("registry"),
                text_runtime(self.components.settings, base),
            )
        if name == "runner":
            from manyshores.synthesis.runner import AdapterRunner

            return AdapterRunner(self.components.get_base(), self._get_unlocked("registry"))
        from manyshores.memory.survey import SurveyMemory

        return SurveyMemory.from_package()

    def _get_unlocked(self, name: str) -> Any:
        if name not in self._parts:
            self._parts[name] = self._build(name)
        return self._parts[name]

    def _task_adapter(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]:
        """The confident culture's adapter for the detected task, as the only expert, or []."""
        from manyshores.synthesis.routing import route_task_experts

        if task["options"] or posterior.get("unknown") or not posterior.get("cultures"):
            return []
        dist = {c["id"]: c["p"] for c in posterior["cultures"]}
        found = route_task_experts(self._part("registry"), dist, task["name"])
        if found.level != "task":
            return []  # general experts and committees: the routing below knows them better
        culture = max(dist, key=lambda c: dist[c])
        return [
            {
                "id": found.expert_ids[0],
                "culture": culture,
                "kind": "lora",
                "weight": 1.0,
                "reason": TASK_ADAPTER_REASON + found.reason,
            }
        ]

    def route(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]:
        adapter = self._task_adapter(posterior, task)
        if adapter:
            return adapter
        # The shipped soft prompts were trained to answer survey options; on free text they
        # derail a small model, so open questions go to persona experts of the same cultures.
        kind = "softprompt" if task["options"] else "persona"
        return route_experts(posterior, task, self._part("registry"), kind=kind)

    def answer(
        self,
        choices: list[ExpertChoice],
        *,
        text: str,
        task: TaskInfo,
        sources: list[Source],
        conversation: list[dict[str, str]],
        on_token: Callable[[str], None] | None = None,
    ) -> list[ExpertAnswer]:
        committee = self._part("committee")
        if task["options"]:
            context = format_context_block(sources) or None
            return committee.score_options(  # type: ignore[no-any-return]
                task["question"], task["options"], context, choices
            )
        max_new = self.components.settings.max_new_tokens
        if len(choices) == 1 and choices[0]["reason"].startswith(TASK_ADAPTER_REASON):
            from manyshores.synthesis.prompts import task_messages

            start = time.perf_counter()
            chat = task_messages(
                choices[0]["culture"],
                task["question"],
                context=[s["snippet"] for s in sources if s["snippet"]],
            )
            text = self._part("runner").generate(choices[0]["id"], chat, max_new)
            if on_token is not None:
                on_token(text)
            return [expert_answer(choices[0], text, None, time.perf_counter() - start)]
        messages = expert_messages(task, sources, conversation)
        # A persona answering alone streams its words to the caller as they come.
        return committee.generate(  # type: ignore[no-any-return]
            messages, choices, max_new_tokens=max_new, on_token=on_token
        )

    def _survey_memory(self, answers: list[ExpertAnswer], task: TaskInfo) -> list[float] | None:
        """The answering cultures' known answers to this question, if it is a survey question."""
        memory = self._part("memory")
        known = set(memory.cultures())
        dists: list[list[float]] = []
        weights: list[float] = []
        for a in answers:
            if a["culture"] not in known:
                continue
            found = memory.predict(a["culture"], task["question"], task["options"])
            if found is None or not found.neighbours:
                continue
            if found.neighbours[0][1] < MEMORY_MIN_SIMILARITY:
                return None  # not a survey-like question: memory would be noise
            dists.append(found.probs)
            weights.append(a["weight"])
        return mixture(dists, weights) if dists else None

    def aggregate(
        self, answers: list[ExpertAnswer], task: TaskInfo
    ) -> tuple[str, list[float], int | None, float, list[str]]:
        if not answers:
            return "", [], None, 0.0, ["no expert could answer"]
        options = task["options"]
        if options and all(a["option_probs"] for a in answers):
            memory = self._survey_memory(answers, task)
            # Survey questions are ordinal scales: answer the option nearest the expected position.
            probs, choice, disagreement = aggregate_options(answers, ordinal=memory is not None)
            notes = []
            if memory is not None:
                # The same product of experts as `manyshores eval wvs --systems experts`.
                belief = probs
                probs = product_with_memory(belief, memory, EXPERT_WEIGHT)
                sharp = product_with_memory(belief, memory, EXPERT_WEIGHT, CHOICE_SHARPEN)
                choice = expected_position_choice(sharp)
                notes.append("survey memory: the cultures' known answers to similar questions")
            return options[choice], probs, choice, disagreement, notes
        text, disagreement = aggregate_text(answers)
        notes = [f"{len(answers)} experts answered; disagreement {disagreement:.2f}"]
        return text, [], None, disagreement, notes if len(answers) > 1 else []
