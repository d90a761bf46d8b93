"""The prompts a task adapter is trained and asked with (training and inference must match)."""

from __future__ import annotations

from collections.abc import Sequence

from manyshores.cultures import iso_name

SHORT_ANSWER_RULE = "Answer with a short phrase only, no explanation."


def persona_line(culture: str) -> str:
    """The system line naming the culture (`*`: no culture named, as for a joint adapter)."""
    if culture == "*":
        return "You answer questions about everyday culture. "
    name = iso_name(culture)
    return f"You are a person from {name}. Answer as most people in {name} would. "


def task_messages(
    culture: str,
    question: str,
    *,
    fmt: str = "short_answer",
    options: Sequence[str] = (),
    context: Sequence[str] = (),
    name_culture: bool = True,
) -> list[dict[str, str]]:
    """Chat messages asking `question` in `fmt`, optionally with retrieved `context` passages.

    `name_culture=False` leaves the culture out of the system line (the `base` system).
    """
    system = (persona_line(culture) if name_culture else "") + SHORT_ANSWER_RULE
    if fmt == "classification":
        system += " Reply true or false."
    elif options:
        system += " Reply with one of the options, copied exactly."
    user = question
    if options:
        user += "\nOptions: " + "; ".join(options)
    if context:
        notes = "\n".join(f"- {c}" for c in context)
        user = f"Background notes (may be incomplete):\n{notes}\n\nQuestion: {user}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
