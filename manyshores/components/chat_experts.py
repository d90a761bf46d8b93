"""The experts a configured chat model adds to the graph's expert backend.

- Grounded personas (path `grounded`): one per plausible culture, each writing from its
  culture's numbered evidence (`experts.persona.grounded`), streamed as it comes. When the
  chat model fails, the answer keeps what it wrote before the failure and says so in its
  `note`; aggregate then adds the evidence reply the turn would have had without a chat model
  (a grounded request keeps its evidence part). The base model does not write it instead: a
  135M model's text is not what the person configured a chat model for.
- Option experts (`chat:<culture>`): the chat model's option probabilities for a persona of the
  culture (`runtime.chat_options`), carrying the culture's survey memory like the other experts.
  Where survey memory answers the question and the model's calibrated survey weight is 0, they
  are not asked: memory alone decides (as for an uncalibrated expert set).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from manyshores.answers.grounded import FALLBACK_NOTE, grounding
from manyshores.experts.committee import expert_answer
from manyshores.experts.persona.grounded import grounded_messages
from manyshores.experts.persona.model import PersonaExpert, culture_name
from manyshores.experts.types import ExpertInfo
from manyshores.runtime.scoring import survey_messages
from manyshores.runtime.text import TextRuntimeError
from manyshores.web.sanitize import format_context_block

if TYPE_CHECKING:
    from manyshores.runtime.chat_options import ChatOptionScorer
    from manyshores.runtime.chat_text import ChatModelText
    from manyshores.state import (
        EvidenceRecord,
        ExpertAnswer,
        ExpertChoice,
        KnownAnswers,
        Source,
        TaskInfo,
    )


def language_name(code: str | None) -> str:
    """The English name of an ISO 639-1 code (the instruction's language), else the code."""
    if not code:
        return "English"
    try:
        import pycountry

        found = pycountry.languages.get(alpha_2=code.split("-")[0].lower())
    except (ImportError, LookupError):
        found = None
    return str(found.name) if found is not None else code


def names_of(cultures: list[str]) -> dict[str, str]:
    return {c: culture_name(c) for c in cultures if c}


def answer_grounded(
    chat: ChatModelText,
    choice: ExpertChoice,
    *,
    question: str,
    task: TaskInfo,
    sources: list[Source],
    evidence: list[EvidenceRecord],
    language: str | None,
    max_new_tokens: int,
    on_token: Callable[[str], None] | None,
) -> ExpertAnswer:
    """One grounded persona's raw text (the citation gate runs where it is shown: the expert
    node while streaming, aggregate when composing), with the refs it was given."""
    culture = choice["culture"]
    cultures = [culture] if culture else []
    names = names_of([culture, *(r["culture"] for r in evidence)])
    found = grounding(evidence, sources, cultures, names)
    request = task.get("request", "fact")
    messages = grounded_messages(
        question, request, names.get(culture, culture), found, language_name(language)
    )
    start = time.perf_counter()
    pieces: list[str] = []
    counts: list[int] = []
    note = ""
    try:
        for piece in chat.stream(messages, max_new_tokens, counts):
            pieces.append(piece)
            if on_token is not None:
                on_token(piece)
    except TextRuntimeError as exc:
        note = f"{exc}; {FALLBACK_NOTE}"
    answer = expert_answer(
        choice,
        "".join(pieces),
        None,
        time.perf_counter() - start,
        input_tokens=chat.prompt_tokens(messages, max_new_tokens),
        output_tokens=sum(counts) if counts else len(pieces),
    )
    answer["runtime"] = chat.name
    answer["sources"] = list(found.numbers.values())
    if note:
        answer["note"] = note
    return answer


def answer_options(
    scorer: ChatOptionScorer,
    choices: list[ExpertChoice],
    task: TaskInfo,
    sources: list[Source],
    known: dict[str, KnownAnswers | None],
) -> list[ExpertAnswer]:
    """Each chat expert's option distribution (its persona's prompt, as the base model's
    personas are asked), with its culture's survey memory. A failed request gives an answer
    with no distribution and a `note`: aggregate leaves it out, and the other experts and
    survey memory still decide."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from manyshores.runtime.chat_options import OptionScores

    context = format_context_block(sources) or None
    options = task["options"]

    def one(choice: ExpertChoice) -> OptionScores | str:
        persona = PersonaExpert(ExpertInfo(choice["id"], choice["culture"], "persona", ["*"]))
        messages = survey_messages(task["question"], options, context, persona.instruction())
        try:
            return scorer.score(messages, options)
        except TextRuntimeError as exc:
            return str(exc)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(choices)))) as pool:
        found = list(pool.map(lambda c: contextvars.copy_context().run(one, c), choices))
    secs = (time.perf_counter() - start) / max(1, len(choices))
    answers: list[ExpertAnswer] = []
    for choice, result in zip(choices, found, strict=True):
        if isinstance(result, str):
            failed = expert_answer(choice, "", None, secs, output_tokens=0)
            failed["note"] = f"{result}: its option probabilities are left out"
            answers.append(failed)
            continue
        probs = result.probs
        best = max(range(len(probs)), key=lambda i: probs[i])
        answer = expert_answer(choice, options[best], probs, secs, output_tokens=0)
        answer["runtime"] = scorer.name
        answer["method"] = result.method
        answer["survey_memory"] = known.get(choice["culture"])
        if result.note:
            answer["note"] = f"the chat model's options were sampled: {result.note}"
        answers.append(answer)
    return answers


def memory_known(known: dict[str, Any], floor: float) -> bool:
    """Whether survey memory answers for some culture: a known question this similar."""
    return any(k is not None and k["similarity"] >= floor for k in known.values())
