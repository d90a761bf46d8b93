"""Structured output for option questions: a schema whose field is an enum of the answer options.

`CultureChatModel.with_structured_output(schema)` accepts a pydantic class, a TypedDict or a JSON
schema with exactly one enum field (the options, in order) and at most one `dict[str, float]`
field (the distribution, option -> probability). The options are appended to the question as a
numbered list, the graph scores them (log-probabilities, see `runtime.scoring`) and the result is
the most likely option (what a person reads as the answer) and the committee's distribution —
never parsed text. The graph's ordinal `choice` for survey metrics stays in `response_metadata`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import BaseMessage
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel

from manyshores.detection.task import extract_options
from manyshores.errors import InvalidInputError
from manyshores.runtime.scoring import LETTERS

METHOD = "option_scoring"
"""How the structured output is produced, as reported to tracing."""


@dataclass(frozen=True)
class OptionSchema:
    """What a structured-output schema asks of an option question."""

    schema: Any
    """The caller's schema (pydantic class, TypedDict or JSON schema dict)."""
    choice_field: str
    """The enum field that receives the chosen option."""
    values: list[Any]
    """The enum's values, in order: the answer options."""
    distribution_field: str | None
    """The `dict[str, float]` field that receives the distribution, if the schema has one."""

    @property
    def options(self) -> list[str]:
        """The options as the question lists them."""
        return [str(v) for v in self.values]

    def parse(self, message: BaseMessage) -> Any:
        """The schema's value from an answered message (its option scoring, not its text)."""
        meta = message.response_metadata
        probs = meta.get("option_probs") or []
        if not probs or len(probs) != len(self.values):
            raise OutputParserException(
                "the answer carries no option scoring for the schema's options",
                llm_output=str(message.content),
            )
        best = max(range(len(probs)), key=lambda i: probs[i])
        out: dict[str, Any] = {self.choice_field: self.values[best]}
        if self.distribution_field:
            out[self.distribution_field] = dict(zip(self.options, probs, strict=True))
        if isinstance(self.schema, type) and issubclass(self.schema, BaseModel):
            return self.schema.model_validate(out)
        return out


def _branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """An optional field (`X | None`) is an anyOf with null: look at its non-null branch."""
    if "anyOf" in prop:
        return [p for p in prop["anyOf"] if p.get("type") != "null"]
    return [prop]


def _is_distribution(prop: dict[str, Any]) -> bool:
    return any(
        p.get("type") == "object" and (p.get("additionalProperties") or {}).get("type") == "number"
        for p in _branches(prop)
    )


def option_schema(schema: Any) -> OptionSchema:
    """Check that `schema` describes an option question; raise `InvalidInputError` if not."""
    try:
        js = convert_to_json_schema(schema)
    except Exception as exc:
        raise InvalidInputError(f"not a usable output schema: {exc}") from exc
    props: dict[str, Any] = js.get("properties") or {}
    required = set(js.get("required") or [])
    enums = {  # a one-value Literal is a `const`
        name: branch["enum"] if "enum" in branch else [branch["const"]]
        for name, prop in props.items()
        for branch in _branches(prop)
        if "enum" in branch or "const" in branch
    }
    dists = [name for name, prop in props.items() if _is_distribution(prop)]
    others = required - set(enums) - set(dists)
    if len(enums) != 1 or len(dists) > 1 or others:
        raise InvalidInputError(
            "structured output answers option questions only: the schema needs exactly one enum "
            "field (the options) and at most one dict[str, float] field (the distribution); "
            f"got enum fields {sorted(enums)}, distribution fields {dists}, "
            f"other required fields {sorted(others)}"
        )
    ((field, values),) = enums.items()
    texts = [str(v).strip() for v in values]
    if not 2 <= len(texts) <= len(LETTERS):
        raise InvalidInputError(f"the enum needs 2 to {len(LETTERS)} options, got {len(texts)}")
    if any(not t or "\n" in t for t in texts) or len(set(texts)) != len(texts):
        raise InvalidInputError(f"the options must be distinct non-empty single lines: {texts}")
    return OptionSchema(schema, field, list(values), dists[0] if dists else None)


def _same(found: list[str], options: list[str]) -> bool:
    """The options detected in a question are the schema's (detection trims end punctuation)."""

    def norm(s: str) -> str:
        return s.strip().strip(".;,").strip().casefold()

    return [norm(o) for o in found] == [norm(o) for o in options]


def question_with_options(text: str, options: list[str]) -> str:
    """The question with its options listed, one per numbered line (as task detection reads
    them); unchanged when the question already lists exactly these options."""
    if _same(extract_options(text)[1], options):
        return text
    lines = "\n".join(f"{i}. {o}" for i, o in enumerate(options, start=1))
    return f"{text.rstrip()}\n{lines}"


def check_detected(found: list[str], options: list[str]) -> None:
    """Raise when the graph read other options than the schema's (the question lists its own)."""
    if not _same(found, options):
        raise InvalidInputError(
            f"the question was read with the options {found}, not the schema's {options}: "
            "leave the option list out of the question, the schema supplies it"
        )
