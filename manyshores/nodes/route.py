"""route: pick the experts for this turn, then fan out one `Send` per expert."""

from __future__ import annotations

from typing import Any

from langgraph.types import Send

from manyshores.graph.components import Components
from manyshores.state import CultureState


def make_route(components: Components) -> Any:
    def route(state: CultureState) -> dict[str, Any]:
        experts = components.get_experts().route(state["posterior"], state["task"])
        return {"experts": experts}

    return route


def fan_out(state: CultureState) -> list[Send] | list[str]:
    """One expert task per selected expert; their answers merge through the state reducer.

    With no expert at all (nothing servable) go straight to aggregate, which says so."""
    choices = state.get("experts", [])
    if not choices:
        return ["aggregate"]
    return [Send("expert", {**state, "expert_choice": choice}) for choice in choices]
