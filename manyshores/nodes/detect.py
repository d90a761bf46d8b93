"""detect: who is asking and what they want — the culture posterior and the task.

When the caller asked for confirmation and the posterior is ambiguous, the node interrupts the
run and resumes with the person's answer (LangGraph human-in-the-loop).
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from manyshores.components import Components
from manyshores.nodes.common import (
    capped_messages,
    last_user_text,
    message_text,
    reply_language,
    truncate_message,
)
from manyshores.state import NEW_TURN, CultureState


def make_detect(components: Components) -> Any:
    def detect(state: CultureState) -> dict[str, Any]:
        settings = components.settings
        detector = components.get_detector()
        text, note = truncate_message(last_user_text(state["messages"]), settings.max_message_chars)
        notes = [note] if note else []
        explicit = state.get("culture_override")
        if explicit:
            explicit = detector.normalize(explicit)
        user_id = state.get("user_id")
        profile = components.get_profiles().get(user_id) if user_id else None
        if state.get("user_culture"):
            # The person's own culture, as they said it: the profile's clear lead, which the
            # detector takes as their own culture; a stored profile's cultures count at half.
            stored = {c: 0.5 * w for c, w in (profile or {}).items()}
            profile = {**stored, str(state["user_culture"]): 1.0}
        history = state.get("history", [])
        # Detection cost grows with text length: it reads the same capped text as the experts.
        messages = capped_messages(state["messages"], settings.max_message_chars)
        posterior = detector.detect(messages, explicit=explicit, profile=profile, history=history)
        if state.get("confirm_culture") and posterior["ambiguous"] and not explicit:
            # Re-executed from the top on resume; detection is deterministic, so that is safe.
            reply = interrupt(
                {
                    "question": "Which culture should the answer fit?",
                    "candidates": [c["id"] for c in posterior["cultures"][:5]],
                }
            )
            explicit = detector.normalize(str(reply))
            posterior = detector.detect(
                messages, explicit=explicit, profile=profile, history=history
            )
            notes.append(f"culture confirmed by the user: {explicit}")
        # A follow-up replaces the place or the topic it names in the question it follows.
        earlier = [message_text(m) for m in messages if m.type == "human"][:-1]
        follow_up = detector.read_follow_up(earlier, text)
        query = follow_up.query
        if follow_up.kind != "own":
            notes.append(f"follow-up ({follow_up.kind}) read as: {query[:160]!r}")
        return {
            "text": text,
            "query": query,
            "language": reply_language(detector, text, state.get("language")),
            "turn": state.get("turn", 0) + 1,
            "posterior": posterior,
            "task": detector.detect_task(text),
            "expert_answers": [],  # a new turn starts a new committee (see the reducer)
            "notes": [NEW_TURN, *notes],
        }

    return detect
