"""The graph state: the one contract between nodes.

Everything a person inspecting a run wants to see lives here, so the trace viewer can read it
straight from the checkpoints. Plain TypedDicts (not classes) keep checkpoints JSON-friendly.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

# typing_extensions, not typing: on Python < 3.12 pydantic (and so the LangGraph Agent Server's
# schema export) rejects typing.TypedDict, and the server would publish empty schemas.
from typing_extensions import NotRequired, TypedDict

TaskName = Literal["multiple_choice", "classification", "open_qa", "advice", "rewrite", "other"]
RequestKind = Literal["fact", "write", "how", "advice", "compare", "multi"]
"""What kind of reply a message asks for (`detection.requests`): a short fact of the kinds people
answered in the evidence bank, or a text to write, an explanation of how or why, advice, a
comparison, or several questions at once — which a noun from the bank does not answer."""
SourceKind = Literal["memory", "web"]
RoutePath = Literal["evidence", "survey_memory", "experts", "task_adapter", "general", "grounded"]
"""How a turn is answered (`experts.routing.route`): from people's answers (`evidence`), from
the cultures' known survey answers with the experts as fallback (`survey_memory`), by the
cultures' experts (`experts`), by a culture's adapter for the task (`task_adapter`), by the
bare base model in general terms (`general`), or by a configured chat model writing from the
numbered evidence of each plausible culture (`grounded`)."""


class CultureScore(TypedDict):
    id: str
    """Culture id: ISO 3166-1 alpha-3 (`KEN`) or ISO 3166-2 for regions (`IN-AS`)."""
    p: float
    """Posterior probability."""


class Signal(TypedDict):
    kind: str
    """`explicit`, `profile`, `mention`, `language`, `embedding`, `history`."""
    culture: str
    """Culture the signal points at."""
    weight: float
    """Strength after calibration (log-odds contribution)."""
    evidence: str
    """What was seen, e.g. `mention 'Nairobi'` or `language sw (0.93)`."""


class CulturePosterior(TypedDict):
    cultures: list[CultureScore]
    """Descending by p; at most 10."""
    ambiguous: bool
    """Several cultures are plausible and none is clearly ahead."""
    unknown: bool
    """No signal at all."""
    signals: list[Signal]
    """The evidence behind the posterior."""


NEUTRAL_BELOW_P = 0.2
"""When no culture reaches this probability (an English message with no cue spreads over every
English-speaking country), the answer is culture-neutral rather than one arbitrary culture's."""


def culture_in_play(posterior: CulturePosterior) -> bool:
    """True when some culture is plausible enough to answer for (routing and the reply's wording
    read the posterior alike)."""
    if posterior.get("unknown") or not posterior.get("cultures"):
        return False
    return posterior["cultures"][0]["p"] >= NEUTRAL_BELOW_P


class TaskInfo(TypedDict):
    name: TaskName
    question: str
    """The question text without its option list."""
    options: list[str]
    """Answer options for multiple-choice/classification, else empty."""
    request: NotRequired[RequestKind]
    """The kind of reply asked for (absent in older checkpoints: read it as `fact`)."""


class Source(TypedDict):
    kind: SourceKind
    ref: str
    """Document id (memory) or URL (web)."""
    snippet: str
    """Sanitised passage text, capped in length."""
    culture: str | None
    score: float


class ExpertChoice(TypedDict):
    id: str
    """Expert id in the adapter registry, or `persona:<culture>`."""
    culture: str
    kind: str
    """`softprompt`, `lora`, `persona`."""
    weight: float
    """Router weight; weights of one turn sum to 1."""
    reason: str
    """Why the router picked it: `posterior`, `nearest to XXX`, `explicit`."""
    path: NotRequired[RoutePath]
    """The route that picked it: how the expert step answers with it (a task adapter with its
    own prompt; survey memory in the experts' place when it knows the question)."""


class KnownAnswers(TypedDict):
    """One culture's known answers to an option question (survey memory), before any floor."""

    probs: list[float]
    """The culture's answers to the closest known questions, over the question's options."""
    similarity: float
    """Similarity of the closest known question (what the similarity floor is checked on)."""


class ExpertAnswer(TypedDict):
    expert_id: str
    culture: str
    weight: float
    text: str
    """Generated answer, or the chosen option's text for multiple choice."""
    option_probs: list[float] | None
    """Distribution over TaskInfo.options, when the task has options."""
    seconds: float
    input_tokens: NotRequired[int]
    """Tokens of the prompt this expert saw, as the base model's tokenizer counts them (chat
    template included; a soft prompt's virtual tokens are not tokens and are not counted)."""
    output_tokens: NotRequired[int]
    """Tokens the expert generated (an end-of-sequence token included); 0 when the options were
    scored, since scoring generates nothing."""
    runtime: NotRequired[str]
    """The text runtime that generated a plain answer (`transformers`, `llama_cpp` or
    `chat_model:<provider:model>`, see `runtime.selection.text_runtime`); absent when the experts'
    own transformers code ran."""
    engine: NotRequired[str]
    """Where its model work ran: `in-process` or `vllm` (absent: in-process, the default)."""
    note: NotRequired[str]
    """Why it ran somewhere other than asked (the serving engine failed: run in-process)."""
    survey_memory: NotRequired[KnownAnswers | None]
    """Its culture's known answers to this option question, looked up once in the turn by the
    expert step and combined with the experts by aggregate (None: memory knows nothing close)."""
    sources: NotRequired[list[str]]
    """Refs of the sources a grounded persona was given as numbered evidence (the trace's view
    of what it wrote from)."""
    method: NotRequired[str]
    """How a chat model's option probabilities were found: `logprobs` or `sampling`."""


class EvidenceRecord(TypedDict):
    """Why an open question got the answer it got: one culture's ranked human answers."""

    culture: str
    usable: bool
    """False when nothing the culture's people answered is close enough to the question."""
    similarity: float
    """Similarity of the closest known question."""
    candidates: list[dict[str, Any]]
    """Best first: text, english, score, support, refs, question, question_local, similarity,
    used."""
    notes: list[str]
    wording: NotRequired[str]
    """`answer` (the closest bank question is the asked one), `related` or `none`."""
    confidence: NotRequired[float | None]
    """Calibrated chance that the lead candidate is right (None when not usable)."""
    match: NotRequired[float]
    """Probability that the closest bank question is the asked one."""
    language: NotRequired[str]
    """The language the question was matched in (`en` or the culture's own)."""


class Turn(TypedDict):
    """What a finished turn leaves behind, kept across turns for history signals."""

    cultures: list[CultureScore]
    task: TaskName


class StepRecord(TypedDict):
    """One node run, written by the node itself into the checkpointed state: the trace reads
    these, so a turn needs no checkpoint per step (see `CultureAssistant`)."""

    node: str
    seconds: float
    turn: int
    read: NotRequired[dict[str, Any]]
    """The state values the node read (long strings capped)."""
    wrote: NotRequired[dict[str, Any]]
    """The update it returned, without this record (long strings capped)."""


def merge_expert_answers(
    left: list[ExpertAnswer] | None, right: list[ExpertAnswer] | None
) -> list[ExpertAnswer]:
    """Accumulate answers from parallel `Send`s; an explicit empty list resets (new turn)."""
    if right is None:
        return list(left or [])
    if len(right) == 0:
        return []
    return [*(left or []), *right]


NEW_TURN = "\x00new-turn"
"""First element of a `notes` update that starts a new turn: earlier turns' notes are dropped."""


def merge_notes(left: list[str] | None, right: list[str] | None) -> list[str]:
    """Notes accumulate within a turn; the turn's first node starts them afresh."""
    if not right:
        return list(left or [])
    if right[0] == NEW_TURN:
        return list(right[1:])
    return [*(left or []), *right]


class CultureState(TypedDict, total=False):
    """State of one conversation thread."""

    messages: Annotated[list[AnyMessage], add_messages]
    culture_override: str | None
    """Culture id forced by the caller for this turn (`culture=` argument)."""
    user_culture: str | None
    """The person's own culture as they stated it (`/culture` in chat): a prior for detection
    that lasts until changed; a culture named in a message still sets that turn's topic."""
    user_id: str | None
    confirm_culture: bool
    """Interrupt and ask the user when the culture is ambiguous (human in the loop)."""
    turn: int
    """Turn counter of the thread, starting at 1."""
    text: str
    """The user's message as processed this turn (truncated when over the limit)."""
    query: str
    """The question this turn answers, standing alone: a short follow-up ("What about in
    Greece?") is read together with the previous question, so its topic carries over."""
    language: str
    """Language the person wrote in (ISO 639-1): the reply's language."""
    posterior: CulturePosterior
    task: TaskInfo
    sources: list[Source]
    evidence: list[EvidenceRecord]
    """Ranked candidate answers per culture for an open question (empty for option questions)."""
    experts: list[ExpertChoice]
    expert_answers: Annotated[list[ExpertAnswer], merge_expert_answers]
    answer: str
    """The reply a person reads."""
    short: str
    """The one answer the reply leads with (a few words): the top evidence answer, or the most
    likely option; empty when the reply has no answer of its own."""
    answers: list[str]
    """The lead answer and the alternatives the reply names (at most three)."""
    wording: str
    """How the reply states its lead: `answer` (people answered this very question), `related`
    (they answered another question, which the reply names), `generated` (a chat model wrote it
    from the numbered evidence, citing it) or `none` (no evidence lead)."""
    confidence: float | None
    """Calibrated chance that the reply's lead answer is right (None without an evidence lead)."""
    option_probs: list[float]
    """Committee distribution over task options (empty for free text)."""
    choice: int | None
    """For option questions, the option nearest the distribution's expected position: the
    decision scored by the survey metrics (`spa`), not the answer a person reads (`short`)."""
    disagreement: float
    """0 when the experts agree; higher when they spread (JS divergence or text dissent)."""
    notes: Annotated[list[str], merge_notes]
    """This turn's human-readable notes (skipped web search, truncation, fallbacks); the trace
    keeps every turn's notes in the steps that wrote them."""
    history: Annotated[list[Turn], operator.add]
    """One entry per finished turn; feeds the history signal of detection."""
    steps: Annotated[list[StepRecord], operator.add]
    """Per-node durations of every turn, in order."""
