"""Replies a person reads, composed from ranked evidence or a survey distribution.

The facts in an evidence reply are the human answers themselves, quoted with a citation
(`[1]` is the turn's first source); nothing in it is generated. A general answer from the
model is only ever shown under a label that says it is not drawn from the culture's evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from manyshores.answers.evidence_phrases import evidence_phrases_for
from manyshores.answers.hygiene import has_loop
from manyshores.answers.option_phrases import option_phrases_for
from manyshores.answers.phrases import PHRASES, Phrases, phrases_for

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
    """The culture's name in the reply's language — `lang` when replies have sentences in it,
    else English: the registry's own name in that language, else CLDR's name of its country in
    that language (a region's English name when CLDR has none), else English; the id if the
    culture is unknown. Never a name in a third language."""
    if not culture_id:
        return ""
    from manyshores.cultures import get_registry

    registry = get_registry()
    if not registry.is_known(culture_id):
        return culture_id
    culture = registry.get(culture_id)
    code = (lang or "en").split("-")[0].lower()
    code = code if code in PHRASES else "en"
    names = culture.names.get(code)
    if names:
        return names[0]
    if culture.kind == "country" and code != "en":
        from manyshores.cultures.culture import _territory_name

        local = _territory_name(code, culture.alpha2)
        if local:
            return local
    english = culture.names.get("en") or []
    return english[0] if english else culture.name


def _cited(answer: CitedAnswer) -> str:
    marks = "".join(f"[{i}]" for i in answer.cites)
    return f"{answer.text} {marks}".strip()


def _finish(p: Phrases, text: str) -> str:
    text = text.rstrip()
    return text if text.endswith(p.end.strip()) else text + p.end


@dataclass(frozen=True)
class EvidencePart:
    """One culture's paragraph of an evidence reply."""

    culture: str
    """The culture's name in the reply's language."""
    answers: list[CitedAnswer]
    """Best first; the first is the lead."""
    wording: str = "related"
    """`answer`: the bank question is the asked one; `related`: people answered `question`."""
    question: str = ""
    """The question people answered (`related`), in the reply's language where the bank has
    it."""
    first: bool = True
    """The lead was that question's most given answer (else it was one of its answers)."""


_INSTRUCTION = re.compile(r"\s*[(（][^()（）]*(?:[(（][^()（）]*[)）][^()（）]*)*[)）]\s*$")
"""A trailing answer-format instruction ("(Provide in HH:MM format (e.g., 18:00).)")."""


def shown_question(question: str) -> str:
    """A bank question as a reply quotes it: one line, without its answer-format instruction."""
    text = " ".join(question.split())
    return _INSTRUCTION.sub("", text).strip() or text


def evidence_reply(parts: Sequence[EvidencePart], lang: str | None) -> Reply:
    """A reply from ranked answers, one paragraph per culture, each worded by what was
    matched (`EvidencePart.wording`).

    The first culture's first answer is the lead; each paragraph names up to three answers.
    """
    p = evidence_phrases_for(lang)
    paragraphs: list[str] = []
    shown: list[str] = []
    for part in parts:
        if not part.answers:
            continue
        lead, others = part.answers[0], part.answers[1 : 1 + MAX_ALTERNATIVES]
        listed = p.sep.join(_cited(a) for a in others)
        if part.wording == "answer" or not part.question:
            text = p.answer.format(culture=part.culture, answer=_cited(lead))
            follow = p.others
        else:
            quoted = f"{p.quotes[0]}{shown_question(part.question)}{p.quotes[1]}"
            template = p.related if part.first else p.related_one
            text = template.format(culture=part.culture, question=quoted, answer=_cited(lead))
            follow = p.also
        if others:
            text += " " + follow.format(answers=listed)
        paragraphs.append(text)
        if not shown:
            shown = [a.text for a in (lead, *others)]
    if not paragraphs:
        return Reply(text="")
    return Reply(text="\n".join(paragraphs), short=shown[0], answers=shown)


def survey_reply(
    culture_name: str,
    options: Sequence[str],
    probs: Sequence[float],
    lang: str | None,
    basis: str = "similar",
) -> Reply:
    """Survey shares, worded for what they are. `similar`: the culture's answers to similar World
    Values Survey questions, mixed by survey memory — "Among people in Nigeria asked similar World
    Values Survey questions: “Very important” (45%); “Rather important” (30%)…"; `own`: the asked
    question's own shares. With no culture there are no shares to give: the reply says that the
    answer depends on the culture and asks which.

    The lead is the most likely option (what a person reads as the answer), never the
    ordinal expected-position choice kept for the survey metrics.
    """
    p = phrases_for(lang)
    o = option_phrases_for(lang)
    if not culture_name:
        return Reply(text=o.depends)
    order = sorted(range(len(options)), key=lambda i: -probs[i])[:SURVEY_OPTIONS_SHOWN]
    shares = p.sep.join(f"“{options[i]}” ({round(100 * probs[i])}%)" for i in order)
    label = (o.survey_own if basis == "own" else o.survey_similar).format(culture=culture_name)
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
