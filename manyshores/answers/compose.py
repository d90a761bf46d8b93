"""Replies a person reads, composed from ranked evidence or a survey distribution.

The facts in an evidence reply are the human answers themselves, quoted with a citation
(`[1]` is the turn's first source); nothing in it is generated. A general answer from the
model is only ever shown under a label that says it is not drawn from the culture's evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from manyshores.answers.hygiene import has_loop
from manyshores.answers.phrases import Phrases, phrases_for

MAX_ALTERNATIVES = 2
"""Alternatives shown after the lead answer (the reply names at most three answers)."""
SURVEY_OPTIONS_SHOWN = 3
"""Options whose share the survey reply names, most likely first."""


@dataclass(frozen=True)
class CitedAnswer:
    """One answer to show and the sources that support it."""

    text: str
    """The answer as shown, in the reply's language where the evidence has it."""
    cites: tuple[int, ...] = ()
    """1-based positions in the turn's `sources`."""


@dataclass(frozen=True)
class Reply:
    """What a person reads, and the short forms kept for evaluation and the trace."""

    text: str
    """The whole reply."""
    short: str = ""
    """The one answer the reply leads with (a few words); empty when it has none."""
    answers: list[str] = field(default_factory=list)
    """The lead answer and the alternatives the reply gives, at most three."""


def culture_label(culture_id: str | None, lang: str | None) -> str:
    """The culture's name in `lang` (English when CLDR has none), or the id if unknown."""
    if not culture_id:
        return ""
    from manyshores.cultures import get_registry

    registry = get_registry()
    if not registry.is_known(culture_id):
        return culture_id
    culture = registry.get(culture_id)
    names = culture.names.get((lang or "en").split("-")[0]) or culture.names.get("en") or []
    return names[0] if names else culture.name


def _cited(answer: CitedAnswer) -> str:
    marks = "".join(f"[{i}]" for i in answer.cites)
    return f"{answer.text} {marks}".strip()


def _finish(p: Phrases, text: str) -> str:
    text = text.rstrip()
    return text if text.endswith(p.end.strip()) else text + p.end


def evidence_reply(parts: Sequence[tuple[str, list[CitedAnswer]]], lang: str | None) -> Reply:
    """A reply from ranked answers, one paragraph per culture: (culture name, answers best first).

    The first culture's first answer is the lead; each paragraph names up to three answers.
    """
    p = phrases_for(lang)
    paragraphs: list[str] = []
    shown: list[str] = []
    for name, answers in parts:
        if not answers:
            continue
        lead, others = answers[0], answers[1 : 1 + MAX_ALTERNATIVES]
        text = f"{p.lead.format(culture=name)}{p.colon} {_cited(lead)}{p.end}"
        if others:
            text += f" {p.others}{p.colon} {p.sep.join(_cited(a) for a in others)}{p.end}"
        paragraphs.append(text)
        if not shown:
            shown = [a.text for a in (lead, *others)]
    if not paragraphs:
        return Reply(text="")
    return Reply(text="\n".join(paragraphs), short=shown[0], answers=shown)


def survey_reply(
    culture_name: str, options: Sequence[str], probs: Sequence[float], lang: str | None
) -> Reply:
    """ "In Nigeria, the most common answer is: “Very important” (45%); “Rather important” (30%)…"

    The lead is the most likely option (what a person reads as the answer), never the
    ordinal expected-position choice kept for the survey metrics.
    """
    p = phrases_for(lang)
    order = sorted(range(len(options)), key=lambda i: -probs[i])[:SURVEY_OPTIONS_SHOWN]
    shares = p.sep.join(f"“{options[i]}” ({round(100 * probs[i])}%)" for i in order)
    label = p.lead.format(culture=culture_name) if culture_name else p.lead.format(culture="—")
    if not culture_name:
        label = p.neutral
    text = f"{label}{p.colon} {shares}{p.end}"
    return Reply(text=text, short=options[order[0]], answers=[options[i] for i in order])


def no_evidence_reply(culture_name: str | None, general: str | None, lang: str | None) -> Reply:
    """Say plainly that there is no information; then a general answer, marked as such.

    With no culture in play there is nothing to be missing: only the marked general answer,
    and an invitation to name a culture.
    """
    p = phrases_for(lang)
    parts = [p.no_info.format(culture=culture_name) if culture_name else p.no_info_any]
    if culture_name is None:
        parts = []
    if general:
        label = p.general.format(culture=culture_name) if culture_name else p.neutral
        marked = f"{label}{p.colon} {_finish(p, general)}"
        # The reply as read must not loop either: the label's words can complete a repetition.
        if not has_loop("\n".join([*parts, marked])):
            parts.append(marked)
    if culture_name is None:
        parts.append(p.hint)
    if not parts:
        parts = [p.no_info_any, p.hint]
    return Reply(text="\n".join(parts))
