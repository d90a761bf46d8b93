"""What each node's OpenTelemetry span says, beside the nodes' trace records (`trace.py`).

One entry per node of `builder.NODE_ORDER`: its OpenInference kind, the attributes that
explain a run of it (from the same read/wrote record the trace keeps), its child spans, and
whether it opens or ends the turn. `manyshores.telemetry` turns them into spans when export is
on; with export off none of this runs.
"""

from __future__ import annotations

import json
from typing import Any

from manyshores.telemetry import (
    INPUT_MIME,
    INPUT_VALUE,
    LLM_COMPLETION_TOKENS,
    LLM_INPUT_MESSAGES,
    LLM_MODEL,
    LLM_OUTPUT_MESSAGES,
    LLM_PROMPT_TOKENS,
    LLM_TOTAL_TOKENS,
    OUTPUT_MIME,
    OUTPUT_VALUE,
    RETRIEVAL_DOCUMENTS,
    SPAN_KIND,
    NodeSpan,
    turn_reply,
)

MAX_DOCUMENTS = 20
"""Passages listed as retrieval documents per span."""

Attributes = dict[str, Any]


def detect_attributes(read: Attributes, wrote: Attributes) -> Attributes:
    """The culture posterior (top cultures, the strongest signals), the task and the language;
    the message itself as the input."""
    attrs: Attributes = {}
    posterior = wrote.get("posterior") or {}
    top = posterior.get("cultures") or []
    attrs["manyshores.cultures"] = [f"{c.get('id')} {c.get('p', 0):.3f}" for c in top[:5]]
    if top:
        attrs["manyshores.culture"] = top[0].get("id")
        attrs["manyshores.culture.p"] = float(top[0].get("p", 0.0))
    attrs["manyshores.ambiguous"] = bool(posterior.get("ambiguous"))
    attrs["manyshores.unknown"] = bool(posterior.get("unknown"))
    signals = sorted(posterior.get("signals") or [], key=lambda s: -abs(float(s.get("weight", 0))))
    attrs["manyshores.signals"] = [
        f"{s.get('kind')} {s.get('culture')} {float(s.get('weight', 0)):+.2f}: {s.get('evidence')}"
        for s in signals[:5]
    ]
    task = wrote.get("task")
    if isinstance(task, dict):
        attrs["manyshores.task"] = task.get("name")
    if wrote.get("language"):
        attrs["manyshores.language"] = wrote["language"]
    question = wrote.get("query") or wrote.get("text")
    if question:  # the message is the input a person looks for first
        attrs[INPUT_VALUE] = question
        attrs[INPUT_MIME] = "text/plain"
    return attrs


def retrieve_attributes(read: Attributes, wrote: Attributes) -> Attributes:
    """The query as the input and the sources as OpenInference retrieval documents."""
    attrs: Attributes = {}
    query = read.get("text")
    if query:
        attrs[INPUT_VALUE] = query
        attrs[INPUT_MIME] = "text/plain"
    for i, source in enumerate((wrote.get("sources") or [])[:MAX_DOCUMENTS]):
        prefix = f"{RETRIEVAL_DOCUMENTS}.{i}.document"
        attrs[f"{prefix}.id"] = str(source.get("ref", ""))
        attrs[f"{prefix}.content"] = str(source.get("snippet", ""))
        if isinstance(source.get("score"), int | float):
            attrs[f"{prefix}.score"] = float(source["score"])
        attrs[f"{prefix}.metadata"] = json.dumps(
            {"kind": source.get("kind"), "culture": source.get("culture")}
        )
    attrs["manyshores.sources"] = len(wrote.get("sources") or [])
    return attrs


def route_attributes(read: Attributes, wrote: Attributes) -> Attributes:
    """The experts chosen, each with its weight and why."""
    return {
        "manyshores.experts": [
            f"{e.get('id')} {float(e.get('weight', 0)):.2f} ({e.get('reason')})"
            for e in wrote.get("experts") or []
        ]
    }


def answer_attributes(answer: Attributes) -> Attributes:
    """One expert's answer as an LLM span's attributes (model, output, tokens)."""
    attrs: Attributes = {
        LLM_MODEL: answer.get("expert_id"),
        OUTPUT_VALUE: answer.get("text"),
        "manyshores.expert.culture": answer.get("culture"),
        "manyshores.expert.weight": answer.get("weight"),
        "manyshores.expert.seconds": answer.get("seconds"),
    }
    if answer.get("option_probs"):
        attrs["manyshores.expert.option_probs"] = list(answer["option_probs"])
    prompt, completion = answer.get("input_tokens"), answer.get("output_tokens")
    if isinstance(prompt, int):
        attrs[LLM_PROMPT_TOKENS] = prompt
    if isinstance(completion, int):
        attrs[LLM_COMPLETION_TOKENS] = completion
    if isinstance(prompt, int) and isinstance(completion, int):
        attrs[LLM_TOTAL_TOKENS] = prompt + completion
    return attrs


def expert_attributes(read: Attributes, wrote: Attributes) -> Attributes:
    """A batch of experts as one LLM span: the question as the input message, each answer as
    an output message, the token counts summed (a lone expert's answer in full)."""
    answers = wrote.get("expert_answers") or []
    attrs: Attributes = answer_attributes(answers[0]) if len(answers) == 1 else {}
    question = read.get("text")
    if question:
        attrs[INPUT_VALUE] = question
        attrs[INPUT_MIME] = "text/plain"
        attrs[f"{LLM_INPUT_MESSAGES}.0.message.role"] = "user"
        attrs[f"{LLM_INPUT_MESSAGES}.0.message.content"] = question
    for i, answer in enumerate(answers):
        attrs[f"{LLM_OUTPUT_MESSAGES}.{i}.message.role"] = "assistant"
        attrs[f"{LLM_OUTPUT_MESSAGES}.{i}.message.content"] = str(answer.get("text", ""))
    if len(answers) != 1:
        attrs[LLM_MODEL] = ",".join(str(a.get("expert_id")) for a in answers)
    prompt = [a["input_tokens"] for a in answers if isinstance(a.get("input_tokens"), int)]
    completion = [a["output_tokens"] for a in answers if isinstance(a.get("output_tokens"), int)]
    if prompt:
        attrs[LLM_PROMPT_TOKENS] = sum(prompt)
    if completion:
        attrs[LLM_COMPLETION_TOKENS] = sum(completion)
    if prompt and completion:
        attrs[LLM_TOTAL_TOKENS] = sum(prompt) + sum(completion)
    return attrs


def expert_children(wrote: Attributes) -> list[tuple[str, Attributes]]:
    """An LLM span per expert answered in one batch, when the batch had several."""
    answers = wrote.get("expert_answers") or []
    if len(answers) < 2:
        return []
    return [
        (f"expert {answer.get('expert_id')}", {SPAN_KIND: "LLM", **answer_attributes(answer)})
        for answer in answers
    ]


def aggregate_attributes(read: Attributes, wrote: Attributes) -> Attributes:
    """The candidates combined (expert ids: their answers are in the expert spans), the
    disagreement and what was decided."""
    attrs: Attributes = {
        "manyshores.candidates": [str(a) for a in read.get("expert_answers") or []]
    }
    if "disagreement" in wrote:
        attrs["manyshores.disagreement"] = float(wrote.get("disagreement") or 0.0)
    if wrote.get("choice") is not None:
        attrs["manyshores.choice"] = int(wrote["choice"])
    if wrote.get("option_probs"):
        attrs["manyshores.option_probs"] = list(wrote["option_probs"])
    if wrote.get("answer"):
        attrs["manyshores.answer"] = wrote["answer"]
    return attrs


def respond_attributes(read: Attributes, wrote: Attributes) -> Attributes:
    """The reply as the output."""
    reply = turn_reply(wrote)
    return {OUTPUT_VALUE: reply, OUTPUT_MIME: "text/plain"} if reply else {}


NODE_SPANS: dict[str, NodeSpan] = {
    "detect": NodeSpan(attributes=detect_attributes, opens_turn=True),
    "retrieve": NodeSpan("RETRIEVER", retrieve_attributes),
    "route": NodeSpan(attributes=route_attributes),
    "expert": NodeSpan("LLM", expert_attributes, children=expert_children),
    "aggregate": NodeSpan(attributes=aggregate_attributes),
    "respond": NodeSpan(attributes=respond_attributes, ends_turn=True),
}
"""Node name → how its runs become spans."""
