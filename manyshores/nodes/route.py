"""route: decide how this turn is answered, then fan out one `Send` per batch of experts.

Experts that can share work run together in one `Send` (all soft prompts reuse one KV cache of
the shared prompt; LoRA adapters share one mixed batch); a persona changes the prompt itself,
so each persona gets its own `Send`.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Send

from manyshores.components import Components, mixes_in_one_batch
from manyshores.state import CultureState, ExpertChoice


def make_route(components: Components) -> Any:
    def route(state: CultureState) -> dict[str, Any]:
        # The rules (evidence first, general answers, task adapters, survey memory, experts)
        # are the expert backend's one decision (`experts.routing.route`).
        records = state.get("evidence", [])
        decision = components.get_experts().route(
            state["posterior"],
            state["task"],
            has_evidence=any(r["usable"] for r in records),
            language=state.get("language"),
            answered=any(r["usable"] and r.get("wording") == "answer" for r in records),
        )
        return {"experts": decision.experts}

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
