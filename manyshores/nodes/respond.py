"""respond: append the answer to the conversation and remember the turn's culture."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage

from manyshores.components import Components
from manyshores.state import CultureState


def make_respond(components: Components) -> Any:
    def respond(state: CultureState) -> dict[str, Any]:
        posterior = state["posterior"]
        user_id = state.get("user_id")
        if user_id and not posterior["unknown"]:
            components.get_profiles().record(
                user_id, {c["id"]: c["p"] for c in posterior["cultures"][:3]}
            )
        message = AIMessage(
            content=state.get("answer", ""),
            response_metadata={
                "cultures": posterior["cultures"][:3],
                "experts": [e["id"] for e in state.get("experts", [])],
            },
        )
        return {
            "messages": [message],
            "history": [{"cultures": posterior["cultures"][:3], "task": state["task"]["name"]}],
            "culture_override": None,
        }

    return respond
