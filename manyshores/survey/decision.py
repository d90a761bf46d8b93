"""How a survey answer is decided: survey memory, the combination with the experts, the choice.

The graph's expert backend, `manyshores eval wvs` and `manyshores experts calibrate` all decide
with these functions, so a measured figure and the answer a user gets come from the same rule:

    lookup = memory_lookup(memory, [(culture, weight), ...], question, options, floor=...)
    decision = decide(expert_probs, lookup.probs if lookup else None, calibration)
    decision.answer   # the most likely option: what the reader is told
    decision.choice   # the option nearest the expected position: what the survey metrics score

The combination's numbers are not code constants: `Calibration` is chosen per base model and
expert set by `manyshores experts calibrate` and stored beside the experts (`calibration.json`,
read by `ExpertRegistry.calibration()`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import ExpertStoreError

if TYPE_CHECKING:
    from manyshores.survey.memory import MemoryParams, SurveyMemory

CALIBRATION_FILE = "calibration.json"
"""Beside the experts of a store: the combination constants calibrated for that expert set."""
MEMORY_MIN_SIMILARITY = 0.6
"""Survey memory joins only when a known survey question is this similar to the one asked:
below it the "neighbours" are unrelated questions and would only blur the experts' answer. Set
by hand from the shipped questions' similarities, not calibrated (the calibration questions are
all survey questions, so they cannot tell where survey-likeness ends)."""
PROB_FLOOR = 1e-6
"""Added before a log: an option that one side rules out does not zero the product."""


@dataclass(frozen=True)
class Calibration:
    """The combination constants of one expert set on one base model."""

    expert_weight: float = 0.0
    """Exponent of the experts in the product with survey memory. 0 (the default for an
    uncalibrated set) means memory alone decides whenever it answers, and the experts are not run
    for such questions at all."""
    choice_sharpen: float = 1.25
    """The metrics' choice is the option nearest the expected position of the belief raised to
    this power: a sharper belief moves it toward the mode."""
    memory_min_similarity: float = MEMORY_MIN_SIMILARITY
    """Similarity floor of survey memory (see MEMORY_MIN_SIMILARITY)."""
    memory: dict[str, Any] = field(default_factory=dict)
    """Survey-memory retrieval parameters chosen with the constants (`MemoryParams` fields);
    empty: the shipped defaults."""
    base_fingerprint: str = ""
    """Base model the experts were calibrated on (empty: not calibrated)."""
    experts_stamp: str = ""
    """`experts_stamp()` of the expert set it was calibrated for."""
    measured: dict[str, Any] = field(default_factory=dict)
    """What the calibration measured (held-out scores), so the choice can be checked."""

    @property
    def calibrated(self) -> bool:
        return bool(self.experts_stamp)

    def memory_params(self) -> MemoryParams | None:
        """The memory parameters it was calibrated with, or None for memory's own defaults."""
        if not self.memory:
            return None
        from manyshores.survey.memory import MemoryParams

        return MemoryParams(**self.memory)

    def needs_experts(self, memory_answered: bool) -> bool:
        """Whether the experts must run: with weight 0 they cannot change what memory decides."""
        return self.expert_weight > 0 or not memory_answered

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Calibration:
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ExpertStoreError(f"calibration has unknown fields {sorted(unknown)}")
        cal = cls(**raw)
        if cal.expert_weight < 0 or cal.choice_sharpen <= 0:
            raise ExpertStoreError(
                f"calibration out of range: expert_weight {cal.expert_weight} must be >= 0, "
                f"choice_sharpen {cal.choice_sharpen} > 0"
            )
        return cal

    def save(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        path = root / CALIBRATION_FILE
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")
        return path


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object stored at `path`; `ExpertStoreError` naming `what` when it cannot be
    read or is not an object."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ExpertStoreError(f"unreadable {what} {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ExpertStoreError(f"{what} {path} is not a JSON object")
    return raw


def read_calibration(root: Path) -> Calibration | None:
    """The calibration stored in a store directory, or None when there is none."""
    path = root / CALIBRATION_FILE
    if not path.is_file():
        return None
    return Calibration.from_dict(read_json_object(path, "calibration"))


def experts_stamp(manifests: Iterable[Path]) -> str:
    """Identity of an expert set: a hash of its experts' manifests (ids, base, data, metrics)."""
    digest = hashlib.sha256()
    for path in sorted(manifests):
        digest.update(path.parent.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class SurveyDecision:
    """What is decided from the experts' belief and survey memory."""

    probs: list[float]
    """The combined distribution over the options (what is reported and scored as `probs`)."""
    answer: int
    """The most likely option: what the reader is told."""
    choice: int
    """The option the survey metrics score: nearest the expected position of the sharpened belief
    on an ordinal scale (survey questions), else the most likely option."""
    memory: bool
    """Whether survey memory took part."""


@dataclass(frozen=True)
class MemoryLookup:
    """Survey memory's answer for a question and a set of weighted cultures."""

    probs: list[float]
    """The cultures' known answers to similar questions, mixed by culture weight."""
    similarity: float
    """Similarity of the closest known question (the gate's measure)."""


def argmax(values: Sequence[float]) -> int:
    """Index of the largest value (the first one on ties)."""
    return max(range(len(values)), key=lambda i: values[i])


def expected_position_choice(probs: Sequence[float]) -> int:
    """The option nearest the distribution's expected position (minimises expected squared
    distance on an ordinal scale)."""
    mean = sum(i * p for i, p in enumerate(probs)) / max(sum(probs), 1e-12)
    return min(range(len(probs)), key=lambda i: (abs(i - mean), i))


def mixture(dists: Sequence[Sequence[float]], weights: Sequence[float]) -> list[float]:
    """Weighted average of distributions (weights renormalised)."""
    total = sum(weights) or 1.0
    return [
        sum(w * d[i] for w, d in zip(weights, dists, strict=True)) / total
        for i in range(len(dists[0]))
    ]


def product_with_memory(
    expert: Sequence[float] | None,
    memory: Sequence[float] | None,
    expert_weight: float,
    sharpen: float = 1.0,
) -> list[float]:
    """Product of experts: memory**sharpen * expert**(expert_weight * sharpen), renormalised.

    With `sharpen` > 1 the result is a sharper version used only to decide the choice. Without
    memory it is the experts' belief; without experts (or weight 0) memory alone, sharpened.
    """
    if memory is None:
        if expert is None:
            raise ValueError("neither experts nor survey memory gave a distribution")
        return list(expert)
    weight = expert_weight if expert is not None else 0.0
    logs = [
        sharpen * (math.log(m + PROB_FLOOR) + (weight * math.log(e + PROB_FLOOR) if weight else 0))
        for e, m in zip(expert if expert is not None else memory, memory, strict=True)
    ]
    top = max(logs)
    probs = [math.exp(x - top) for x in logs]
    total = sum(probs)
    return [p / total for p in probs]


def decide(
    expert: Sequence[float] | None,
    memory: Sequence[float] | None,
    calibration: Calibration,
    chat: Sequence[float] | None = None,
    chat_weight: float = 0.0,
) -> SurveyDecision:
    """The combined belief, the reader's answer and the metrics' choice.

    With memory the options are a survey's ordinal scale; with weight 0 the belief is memory's
    own (the experts' distribution, if any, is not used). `chat`, a configured chat model's
    distribution, joins the product with its own calibrated exponent `chat_weight`
    (`survey.chat_calibration`); without memory it is the belief (the model the user chose
    answers where no survey answer is known; the trained experts' distribution stays in the
    trace).
    """
    if memory is None:
        belief = chat if chat is not None else expert
        if belief is None:
            raise ValueError("neither experts nor survey memory gave a distribution")
        probs = list(belief)
        return SurveyDecision(probs, argmax(probs), argmax(probs), memory=False)
    if chat is not None and chat_weight > 0:
        return _decide_with_chat(expert, memory, calibration, chat, chat_weight)
    used = expert if calibration.expert_weight > 0 else None
    if used is None:
        probs = list(memory)
    else:
        probs = product_with_memory(used, memory, calibration.expert_weight)
    sharp = product_with_memory(used, memory, calibration.expert_weight, calibration.choice_sharpen)
    return SurveyDecision(probs, argmax(probs), expected_position_choice(sharp), memory=True)


def _decide_with_chat(
    expert: Sequence[float] | None,
    memory: Sequence[float],
    calibration: Calibration,
    chat: Sequence[float],
    chat_weight: float,
) -> SurveyDecision:
    """memory * experts**expert_weight * chat**chat_weight (the experts' factor only when they
    carry weight), as `product_with_memory` does with one factor."""
    factors = [(chat, chat_weight)]
    if expert is not None and calibration.expert_weight > 0:
        factors.append((expert, calibration.expert_weight))

    def product(sharpen: float) -> list[float]:
        logs = [
            sharpen
            * (math.log(m + PROB_FLOOR) + sum(w * math.log(f[i] + PROB_FLOOR) for f, w in factors))
            for i, m in enumerate(memory)
        ]
        top = max(logs)
        out = [math.exp(x - top) for x in logs]
        total = sum(out)
        return [p / total for p in out]

    probs = product(1.0)
    sharp = product(calibration.choice_sharpen)
    return SurveyDecision(probs, argmax(probs), expected_position_choice(sharp), memory=True)


def memory_lookup(
    memory: SurveyMemory,
    cultures: Sequence[tuple[str, float]],
    question: str,
    options: Sequence[str],
    *,
    floor: float | None,
    exclude: set[str] | frozenset[str] = frozenset(),
    qid: str | None = None,
    params: MemoryParams | None = None,
) -> MemoryLookup | None:
    """Survey memory for weighted cultures: each culture's own answers to similar questions,
    else (a culture with no answers of its own) the similarity-weighted answers of its nearest
    cultures; the cultures mixed by weight. None when no culture can be answered, or when the
    closest known question is less similar than `floor`.

    Both rules apply, because they answer different questions. The floor asks whether the
    question is a survey question at all: the graph sees any multiple-choice question, and on one
    unrelated to every known question memory's "neighbours" are noise, so it does not join
    (callers that only ask survey questions, like `eval wvs`, pass None). The nearest-culture
    fallback asks whose answers stand in for a culture without its own: the calibration measured
    it (`memory_unseen_country`) above the experts of the same nearest cultures, so a culture
    with no answers is served by its neighbours' answers rather than by the experts alone.
    """
    from manyshores.cultures import nearest_cultures

    known = memory.cultures()
    dists: list[list[float]] = []
    weights: list[float] = []
    best = -math.inf
    for culture, weight in cultures:
        if not culture:
            continue  # the base model speaks for no culture
        sources = [(culture, 1.0)] if culture in known else nearest_cultures(culture, known)
        found = [
            (memory.predict(c, question, list(options), exclude, params, qid), s)
            for c, s in sources
        ]
        found = [(a, s) for a, s in found if a is not None and a.neighbours]
        if not found:
            continue
        # The floor reads the ranking score, same-scale bonus included: the floor was set on
        # it ("How important is family in your life?" scores 0.59 plain, 0.79 with the bonus).
        best = max(best, *(a.neighbours[0][1] for a, _ in found if a is not None))
        dists.append(mixture([a.probs for a, _ in found if a], [s for _, s in found]))
        weights.append(weight)
    if not dists or (floor is not None and best < floor):
        return None
    return MemoryLookup(mixture(dists, weights), best)
