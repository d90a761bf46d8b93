"""Checks every synthesised example must pass: format, grounding, novelty, label balance.

The teacher answers with one JSON object (see `teacher.FORMAT_SPECS`). `parse_json_object`
pulls it out of whatever text surrounds it, `check_format` turns it into the example's fields
(or names why it is malformed), `check_grounding` verifies the cited evidence is quoted from the
passage and the answer is supported by it, and `Balancer` keeps labels and answer positions
even. Each failure is one of `DROP_REASONS`, counted by the pipeline.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from manyshores.synthesis.textnorm import (
    contains_phrase,
    content_tokens,
    coverage,
    normalize_answer,
    tokens,
)

FORMATS = ("short_answer", "multiple_choice", "classification", "survey")
"""Target formats a task's data can take."""
LABELS = ("true", "false")
"""Classification labels: is the statement true of the culture, according to the passage."""
DROP_REASONS = ("unparseable", "format", "grounding", "duplicate", "balance", "teacher_error")
"""Why an example was dropped (the report counts each)."""

EVIDENCE_MIN_COVERAGE = 0.8
"""The evidence must be (nearly) a quote: this share of its content words is in the passage."""
ANSWER_MIN_COVERAGE = 0.5
"""The answer is supported when this share of its content words is in the passage."""
_JSON_RE = re.compile(r"\{.*\}", re.DOTALL)
_PLACEHOLDERS = frozenset({"...", "a short phrase", "quote", "the correct option, copied exactly"})
"""Words of `teacher.FORMAT_SPECS` a weak teacher echoes instead of writing an example."""
_SENTENCE_RE = re.compile(r"(?<=[.!?。！？])\s+|\n+")


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text` (code fences and chatter around it are ignored)."""
    match = _JSON_RE.search(text or "")
    if match is None:
        return None
    candidate = match.group(0)
    # A model may add text after the object; shrink from the right until it parses.
    for end in range(len(candidate), 0, -1):
        if candidate[end - 1] != "}":
            continue
        try:
            value = json.loads(candidate[:end])
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None


def _is_placeholder(value: str) -> bool:
    """A value copied from the requested shape instead of written (`...`, `<the answer>`)."""
    low = value.lower()
    return low in _PLACEHOLDERS or (low.startswith("<") and low.endswith(">"))


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return " ".join(str(value).split()) if isinstance(value, (str, int, float)) else ""


def check_format(raw: dict[str, Any], fmt: str) -> tuple[dict[str, Any] | None, str | None]:
    """(question, options, answer, evidence fields, None) or (None, why it is malformed)."""
    evidence = _text(raw, "evidence")
    if fmt == "classification":
        statement = _text(raw, "statement") or _text(raw, "question")
        label = _text(raw, "label").lower()
        if not statement or label not in LABELS:
            return None, "statement and a label true/false are required"
        return {
            "question": statement,
            "options": list(LABELS),
            "answer": label,
            "evidence": evidence,
        }, None
    question, answer = _text(raw, "question"), _text(raw, "answer")
    if fmt == "short_answer" and ";" in answer:
        # A teacher copying a passage's answer list ("egg; sandwich; fruit"): the format asks
        # for one answer, and passages list the most common first.
        answer = answer.split(";", 1)[0].strip()
    if not question or not answer:
        return None, "question and answer are required"
    if len(answer) > 120:
        return None, "answer too long for its format"
    if any(_is_placeholder(v) for v in (question, answer, evidence)):
        return None, "the reply copies the requested shape's placeholders"
    fields: dict[str, Any] = {
        "question": question,
        "options": [],
        "answer": answer,
        "evidence": evidence,
    }
    if fmt == "short_answer":
        if contains_phrase(tokens(question), tokens(answer)):
            return None, "the question gives its answer away"
        return fields, None
    options = raw.get("options")
    if not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
        return None, "options must be a list of strings"
    options = [" ".join(o.split()) for o in options]
    low, high = (2, 6) if fmt == "multiple_choice" else (3, 10)
    if not low <= len(options) <= high:
        return None, f"{fmt} needs {low}-{high} options"
    if len({normalize_answer(o) for o in options}) != len(options):
        return None, "options repeat"
    if answer not in options:
        return None, "the answer is not one of the options"
    fields["options"] = options
    return fields, None


def check_grounding(fields: dict[str, Any], fmt: str, passage: str) -> str | None:
    """None when the example is supported by `passage`, else why not."""
    if fields.get("evidence") and coverage(fields["evidence"], passage) < EVIDENCE_MIN_COVERAGE:
        return "the evidence is not quoted from the passage"
    if fmt == "classification":
        if not fields.get("evidence"):
            return "no evidence"
        # A true statement must itself be supported; a false one only needs its evidence.
        if fields["answer"] == "true" and coverage(fields["question"], passage) < 0.5:
            return "the true statement is not supported by the passage"
        return None
    if not content_tokens(fields["answer"]):
        return "the answer has no content words"
    if coverage(fields["answer"], passage) < ANSWER_MIN_COVERAGE:
        return "the answer is not supported by the passage"
    return None


def supporting_sentence(answer: str, passage: str) -> str:
    """The passage sentence covering most of `answer` (evidence when the teacher gave none)."""
    sentences = [s.strip() for s in _SENTENCE_RE.split(passage) if s.strip()]
    return max(sentences, key=lambda s: coverage(answer, s), default="")


def dedup_key(fields: dict[str, Any], fmt: str) -> str:
    """Two examples with this same key ask the same thing."""
    return f"{fmt}|{normalize_answer(fields['question'])}"


@dataclass
class Balancer:
    """Keeps classification labels even and rotates multiple-choice answer positions.

    Survey options are ordinal and the culture's answer is the point, so surveys are not balanced.
    """

    fmt: str
    """Target format."""
    n: int
    """Examples wanted in total (sets the per-label cap)."""
    labels: Counter[str] = field(default_factory=Counter)
    """Kept examples per label (classification) or per answer position (multiple choice)."""

    def observe(self, example: dict[str, Any]) -> None:
        """Count an already-kept example (on resume)."""
        if self.fmt == "classification":
            self.labels[example["answer"]] += 1
        elif self.fmt == "multiple_choice":
            self.labels[str(example["options"].index(example["answer"]))] += 1

    def admit(self, fields: dict[str, Any]) -> dict[str, Any] | None:
        """The fields to keep (options possibly rotated), or None when the label is over quota."""
        if self.fmt == "classification":
            if self.labels[fields["answer"]] >= math.ceil(self.n / len(LABELS)):
                return None
        elif self.fmt == "multiple_choice":
            options = list(fields["options"])
            target = sum(self.labels.values()) % len(options)
            current = options.index(fields["answer"])
            shift = (current - target) % len(options)
            fields = {**fields, "options": options[shift:] + options[:shift]}
        self.observe(fields)
        return fields
