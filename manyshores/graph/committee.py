"""The graph's expert backend: routing, one expert's answer, and aggregation.

Persona experts (a culture-describing system prompt over the base model, as in the Whispers
authors' own code) serve every culture; trained experts are used where the expert store has one.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from manyshores.cultures import get_registry
from manyshores.experts.generation import generate_text
from manyshores.web.sanitize import format_context_block

if TYPE_CHECKING:
    from manyshores.graph.components import Components
    from manyshores.state import CulturePosterior, ExpertAnswer, ExpertChoice, Source, TaskInfo

MIN_EXPERT_P = 0.1
"""Cultures below this posterior get no expert of their own."""
MAX_EXPERTS = 3


def _persona(culture: str) -> str:
    if not culture:
        return "You are a helpful assistant."
    name = get_registry().get(culture).name
    return (
        f"You are a helpful assistant who answers as a typical person from {name} would, "
        f"following the customs and values of {name}."
    )


def expert_messages(
    choice: ExpertChoice,
    task: TaskInfo,
    sources: list[Source],
    conversation: list[dict[str, str]],
) -> list[dict[str, str]]:
    """The chat an expert answers. The system prompt depends on the expert's culture only;
    retrieved text goes into the user turn, fenced as quoted data, never into the system prompt.
    """
    from manyshores.experts.scoring import survey_messages

    context = format_context_block(sources)
    if task["options"]:
        messages = survey_messages(task["question"], task["options"], context or None)
        messages[0]["content"] = _persona(choice["culture"]) + " " + messages[0]["content"]
        return messages
    turns = [dict(m) for m in conversation if m["role"] != "system"]
    if context and turns and turns[-1]["role"] == "user":
        turns[-1]["content"] = f"{context}\n\n{turns[-1]['content']}"
    return [{"role": "system", "content": _persona(choice["culture"])}, *turns]


class CommitteeBackend:
    def __init__(self, components: Components) -> None:
        self.components = components

    def route(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]:
        if posterior["unknown"]:
            return [
                {
                    "id": "persona:base",
                    "culture": "",
                    "kind": "persona",
                    "weight": 1.0,
                    "reason": "no culture detected",
                }
            ]
        picked = [c for c in posterior["cultures"] if c["p"] >= MIN_EXPERT_P][:MAX_EXPERTS]
        picked = picked or posterior["cultures"][:1]
        total = sum(c["p"] for c in picked)
        return [
            {
                "id": f"persona:{c['id']}",
                "culture": c["id"],
                "kind": "persona",
                "weight": c["p"] / total,
                "reason": "posterior",
            }
            for c in picked
        ]

    def answer(
        self,
        choices: list[ExpertChoice],
        *,
        text: str,
        task: TaskInfo,
        sources: list[Source],
        conversation: list[dict[str, str]],
    ) -> list[ExpertAnswer]:
        return [self._answer_one(c, task, sources, conversation) for c in choices]

    def _answer_one(
        self,
        choice: ExpertChoice,
        task: TaskInfo,
        sources: list[Source],
        conversation: list[dict[str, str]],
    ) -> ExpertAnswer:
        start = time.perf_counter()
        base = self.components.get_base()
        messages = expert_messages(choice, task, sources, conversation)
        probs: list[float] | None = None
        if task["options"]:
            import torch

            from manyshores.experts.scoring import (
                label_logprobs,
                label_token_ids,
                prompt_ids,
                run_prefix,
            )

            prefix = run_prefix(base, prompt_ids(base, messages))
            with torch.no_grad():
                logp = label_logprobs(
                    base, prefix.last_hidden, label_token_ids(base, len(task["options"]))
                )
            probs = [float(p) for p in logp.exp()]
            answer_text = task["options"][max(range(len(probs)), key=probs.__getitem__)]
        else:
            answer_text = generate_text(
                base, messages, max_new_tokens=self.components.settings.max_new_tokens
            )
        return {
            "expert_id": choice["id"],
            "culture": choice["culture"],
            "weight": choice["weight"],
            "text": answer_text,
            "option_probs": probs,
            "seconds": time.perf_counter() - start,
        }

    def aggregate(
        self, answers: list[ExpertAnswer], task: TaskInfo
    ) -> tuple[str, list[float], int | None, float, list[str]]:
        if not answers:
            return "", [], None, 0.0, ["no expert could answer"]
        total = sum(a["weight"] for a in answers) or 1.0
        if task["options"] and all(a["option_probs"] for a in answers):
            n = len(task["options"])
            mix = [
                sum(a["weight"] * (a["option_probs"] or [])[i] for a in answers) / total
                for i in range(n)
            ]
            choice = max(range(n), key=mix.__getitem__)
            disagreement = _js_spread(
                [a["option_probs"] or [] for a in answers],
                [a["weight"] / total for a in answers],
                mix,
            )
            return task["options"][choice], mix, choice, disagreement, []
        best = max(answers, key=lambda a: a["weight"])
        dissent = (
            sum(a["weight"] for a in answers if a["text"].strip() != best["text"].strip()) / total
        )
        notes = (
            [f"{len(answers)} experts answered; chose {best['expert_id']} (highest weight)"]
            if len(answers) > 1
            else []
        )
        return best["text"], [], None, dissent, notes


def _js_spread(dists: list[list[float]], weights: list[float], mix: list[float]) -> float:
    """Generalised Jensen–Shannon divergence of the experts around their mixture (bits)."""

    def entropy(p: list[float]) -> float:
        return -sum(x * math.log2(x) for x in p if x > 0)

    return max(0.0, entropy(mix) - sum(w * entropy(d) for w, d in zip(weights, dists)))
