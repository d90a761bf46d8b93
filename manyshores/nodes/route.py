"""route: pick the experts for this turn, then fan out one `Send` per batch of experts.

Experts that can share work run together in one `Send` (all soft prompts reuse one KV cache of
the shared prompt; LoRA adapters share one mixed batch); a persona changes the prompt itself,
so each persona gets its own `Send`.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Send

from manyshores.components import Components, mixes_in_one_batch
from manyshores.state import CulturePosterior, CultureState, ExpertChoice

NEUTRAL_BELOW_P = 0.2
"""When no culture reaches this probability (an English message with no cue spreads over every
English-speaking country), the answer is culture-neutral rather than one arbitrary culture's."""


def culture_in_play(posterior: CulturePosterior) -> bool:
    """True when some culture is plausible enough to answer for."""
    if posterior.get("unknown") or not posterior.get("cultures"):
        return False
    return posterior["cultures"][0]["p"] >= NEUTRAL_BELOW_P


def general_choice(culture: str, reason: str) -> ExpertChoice:
    """The bare base model, answering in general terms (its text is shown as general)."""
    return {"id": "base", "culture": culture, "kind": "base", "weight": 1.0, "reason": reason}


def make_route(components: Components) -> Any:
    def route(state: CultureState) -> dict[str, Any]:
        posterior, task = state["posterior"], state["task"]
        allowed = components.settings.general_answer_languages
        if not task["options"]:
            if any(r["usable"] for r in state.get("evidence", [])):
                # Evidence-first: the reply is composed from people's answers, no model text.
                return {"experts": []}
            if "*" not in allowed and state.get("language") not in allowed:
                # The base model's text would not be shown in this language: generate none.
                return {"experts": []}
            if not culture_in_play(posterior):
                return {"experts": [general_choice("", "no culture in the message: general")]}
        elif not culture_in_play(posterior):
            return {"experts": [general_choice("", "no culture in the message: general")]}
        experts = components.get_experts().route(posterior, task)
        if not task["options"]:
            # No evidence for this culture: a general answer, shown as such, not a persona's
            # text presented as the culture's own (a task adapter still answers if trained).
            experts = [e for e in experts if e["reason"].startswith("task adapter")] or [
                general_choice(posterior["cultures"][0]["id"], "no evidence: general answer")
            ]
        return {"experts": experts}

    return route


def expert_batches(choices: list[ExpertChoice]) -> list[list[ExpertChoice]]:
    """Group choices into the units one expert task runs: one per batchable kind, else singles."""
    batches: dict[str, list[ExpertChoice]] = {}
    singles: list[list[ExpertChoice]] = []
    for choice in choices:
        if mixes_in_one_batch(choice["kind"]):
            batches.setdefault(choice["kind"], []).append(choice)
        else:
            singles.append([choice])
    return [*batches.values(), *singles]


def fan_out(state: CultureState) -> list[Send] | list[str]:
    """One expert task per batch; their answers merge through the state reducer.

    With no expert at all (nothing servable) go straight to aggregate, which says so."""
    choices = state.get("experts", [])
    if not choices:
        return ["aggregate"]
    return [Send("expert", {**state, "expert_batch": batch}) for batch in expert_batches(choices)]
