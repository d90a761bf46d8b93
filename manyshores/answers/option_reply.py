"""Replies to everyday option questions: the options weighed against what people said, in
words ("most likely", "also possible"), never as percentages — no survey measured them.

    option_reply("Spain", ["tapas", "kimchi"], [0.8, 0.2], OptionLead(...), "en")
    → "In Spain, judging by what people there answered to similar questions, the most likely
       option is “tapas”. Asked “What do people eat while watching a soccer game?”, people
       there said “tapas” [1]."
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from manyshores.answers.compose import Reply, shown_question
from manyshores.answers.option_phrases import option_phrases_for
from manyshores.answers.phrases import phrases_for
from manyshores.textnorm import normalize_answer

ALSO_MIN_RATIO = 0.5
"""A second option is named as "also possible" when it is at least this fraction as likely as
the lead."""


@dataclass(frozen=True)
class OptionLead:
    """What people of the culture said that the lead option is matched to."""

    question: str
    """The question they answered, in the reply's language where the bank has it."""
    answer: str
    """What they said."""
    same: bool
    """The lead option is their answer (else it is only the closest option to it)."""
    cite: int | None = None
    """1-based position of the row in the turn's `sources`."""


@functools.lru_cache(maxsize=1)
def _survey_wordings() -> frozenset[str]:
    """The answer wordings of the shipped World Values Survey questions, normalised."""
    from manyshores.paths import PACKAGE_WVS
    from manyshores.survey.data import load_questions

    try:
        questions = load_questions(PACKAGE_WVS / "questions.json")
    except (OSError, ValueError):
        return frozenset()
    return frozenset(normalize_answer(o) for q in questions.values() for o in q.options)


def survey_scale_share(options: Sequence[str]) -> float:
    """Share of `options` that are a World Values Survey question's answer wording ("Very
    important", "Agree strongly"): a survey's scale, not things people name. Numbers are a
    scale only as one, in order ("1", "2", … "10"); "6, 8, 2, 3" are hours or ages."""
    if not options:
        return 0.0
    keys = [normalize_answer(o) for o in options]
    if all(k.isdigit() for k in keys):
        start = int(keys[0])
        return float(start in (0, 1) and keys == [str(start + i) for i in range(len(keys))])
    known = _survey_wordings()
    return sum(k in known for k in keys if not k.isdigit()) / len(keys)


def _quoted(text: str) -> str:
    return f"“{text}”"


def option_reply(
    culture_name: str,
    options: Sequence[str],
    probs: Sequence[float],
    lead: OptionLead | None,
    lang: str | None,
) -> Reply:
    """The most likely option, a second one when it is nearly as likely, and what people said
    that the lead rests on (cited)."""
    p = phrases_for(lang)
    o = option_phrases_for(lang)
    order = sorted(range(len(options)), key=lambda i: (-probs[i], i))
    best = order[0]
    label = o.likely if lead is None or lead.same else o.closest
    parts = [f"{label.format(culture=culture_name)}{p.colon} {_quoted(options[best])}{p.end}"]
    shown = [options[best]]
    if len(order) > 1 and probs[order[1]] >= ALSO_MIN_RATIO * probs[best]:
        parts.append(f"{o.also}{p.colon} {_quoted(options[order[1]])}{p.end}")
        shown.append(options[order[1]])
    if lead is not None:
        mark = f" [{lead.cite}]" if lead.cite else ""
        said = o.said.format(question=shown_question(lead.question))
        parts.append(f"{said}{p.colon} {_quoted(lead.answer)}{mark}{p.end}")
    joiner = "" if p.end.strip() in "。" else " "
    return Reply(text=joiner.join(parts), short=options[best], answers=shown)


def estimate_reply(
    culture_name: str, options: Sequence[str], probs: Sequence[float], lang: str | None
) -> Reply:
    """No answers of people to go by: say so, then the experts' pick, marked as a model's
    guess. The reply leads with no answer of its own (`short` is empty)."""
    p = phrases_for(lang)
    o = option_phrases_for(lang)
    lines = [p.no_info.format(culture=culture_name)]
    if options and probs:
        best = max(range(len(options)), key=lambda i: (probs[i], -i))
        label = o.estimate.format(culture=culture_name)
        lines.append(f"{label}{p.colon} {_quoted(options[best])}{p.end}")
    return Reply(text="\n".join(lines))


def culture_needed_reply(lang: str | None) -> Reply:
    """An option question with no culture in play: the answer depends on the culture; which?"""
    return Reply(text=option_phrases_for(lang).depends)
