"""expert: one batch of culture experts answers (option distributions or generated text)."""

from __future__ import annotations

from typing import Any

from langgraph.config import get_config, get_stream_writer

from manyshores.budget import DEADLINE_KEY, budget_scope
from manyshores.components import Components
from manyshores.nodes.general_answer import ReplyStream
from manyshores.nodes.grounded import GroundedStream
from manyshores.nodes.options import experts_not_needed


def make_expert(components: Components) -> Any:
    def expert(payload: dict[str, Any]) -> dict[str, Any]:
        writer = get_stream_writer()  # a no-op unless the caller streams "custom" events
        batch = payload["expert_batch"]

        # A lone generating expert's words are streamed as the reply will show them.
        grounded = batch[0].get("path") == "grounded"
        reply: ReplyStream | GroundedStream = (
            GroundedStream(payload, batch[0]["culture"])
            if grounded
            else ReplyStream(payload, components, general=batch[0]["id"] == "base")
        )

        def on_token(piece: str) -> None:
            shown = reply.feed(piece)
            if shown:
                writer({"text": shown, "expert": batch[0]["id"]})

        # The question alone (a follow-up already joined to the question it continues): earlier
        # turns' options and answers must not leak into this answer. A general answer is asked
        # without the place names, so the model is not invited to invent one culture's customs.
        question = payload.get("query") or payload["text"]
        if not payload["task"]["options"] and batch[0]["id"] == "base":
            question = components.get_detector().without_places(question)
        # An everyday option question that people's answers score: the experts' models would
        # change nothing (their weight there is 0), so they are asked only if memory is silent
        # and the evidence is not.
        skipped: list[str] = []

        def models_needed() -> bool:
            why = experts_not_needed(payload, components)
            if why:
                skipped.append(why)
            return not why

        settings = components.settings
        deadline = (get_config().get("configurable") or {}).get(DEADLINE_KEY)
        with budget_scope(deadline, settings.turn_timeout_s) as budget:
            answers = components.get_experts().answer(
                batch,
                text=payload["text"],
                task=payload["task"],
                sources=payload.get("sources", []),
                conversation=[{"role": "user", "content": question}],
                on_token=on_token,
                # A grounded persona writes from its culture's evidence, in the reply's language.
                **(
                    {"evidence": payload.get("evidence", []), "language": payload.get("language")}
                    if grounded
                    else {"models_needed": models_needed}
                    if payload["task"]["options"]
                    else {}
                ),
            )
        # An engine that failed says so once per turn, whatever number of experts it affected.
        notes = [*skipped, *dict.fromkeys(a["note"] for a in answers if a.get("note"))]
        if budget is not None and budget.cut:
            notes.append(
                f"the turn's time budget ({budget.seconds:g} s) ran out: the answer is cut short"
            )
        # No answers (survey memory decides without them) is no update: an empty list would
        # reset the turn's answers (`state.merge_expert_answers`).
        update: dict[str, Any] = {"expert_answers": answers} if answers else {}
        return {**update, "notes": notes} if notes else update

    return expert
