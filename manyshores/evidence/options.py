"""Everyday options scored from a culture's evidence: which of the given options people of the
culture would most likely say.

    found = score_options(index, "What goes with beer in Spain?", "ESP", ["tapas", "kimchi"])
    found.probs          # one probability per option (a decision, not survey shares)
    found.bases[0]       # what people there said that the option is matched to, and where
    found.informative    # False: the culture has no evidence near the question

Each option gets four features (`FEATURES`), combined by a softmax over the options with
weights learnt on BLEnD multiple choice (`manyshores eval blend-mc --fit`):
- `support`: the annotator share of the option's own words among the answers to the culture's
  most similar questions (softmax-weighted by similarity);
- `near`: the same with answer-vector cosine in place of equal words (an option that means what
  people said without their words);
- `whose`: among every culture's answers, weighted by how similar their question is to the asked
  one and their answer to the option, the share that are this culture's (an option that is
  another culture's answer to such questions is rarely this culture's);
- `letters`: how much more the option's letters look like this culture's answers than like the
  average culture's (`answer_table.AnswerTable.letters_log_odds`).

The index is read through `match` and `answer_vectors`, its metric, its bank and its
per-culture question vectors (`_culture`); nothing here imports the index (it imports this
module, for `EvidenceIndex.score_options`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from manyshores.evidence.answer_table import answer_table
from manyshores.evidence.metric import project
from manyshores.evidence.similarity import embed_texts
from manyshores.evidence.sources import source
from manyshores.textnorm import normalize_answer

if TYPE_CHECKING:
    from manyshores.evidence.bank import Annotation, BankQuestion
    from manyshores.state import Source

FEATURES = ("support", "near", "whose", "letters")
"""Per-option features, in the order of `WEIGHTS`."""
WEIGHTS = (1.0525, 1.878, 0.3452, 1.2053)
"""Softmax weights of `FEATURES`: maximum likelihood of the right option over BLEnD multiple
choice of the training half of the ids (each fold's ids out of the bank) and the tuning part of
the evaluation half, never its held-out part: `manyshores eval blend-mc --fit`
(docs/evidence.md)."""
SCALE = 1.25
"""Factor on the weighted sum before the softmax: the weights are fitted mostly on items asked
of smaller banks than a new question meets, which leaves them under-confident; the factor that
maximises the likelihood on the tuning part (same command) makes the lead's probability a
calibrated confidence. It changes no order."""
NEIGHBOURS = 20
"""The culture's most similar questions that `support` and `near` read."""
TEMPERATURE = 0.05
"""Softmax temperature over those questions' similarities."""
WHOSE_QUESTION_T = 0.1
"""`whose`: temperature of the question similarity in a row's weight."""
WHOSE_ANSWER_T = 0.05
"""`whose`: temperature of the answer similarity in a row's weight."""
WHOSE_FLOOR = 1e-3
"""`whose` enters as log(share + floor): an option nobody here says is unlikely, not impossible."""
SAME_ANSWER = 0.5
"""Word overlap (Jaccard of normalised tokens) above which a contained option is the answer."""
MIN_SIMILARITY = 0.3
"""Below this similarity of the culture's closest question (English) the options are not
scored. Lower than the evidence reply's own floor: the options are weighed against every
culture's answers, not only the closest questions' (tuning part of `eval blend-mc`: items
between 0.3 and that floor 0.50 right, below 0.3 0.29, chance 0.25)."""


@dataclass(frozen=True)
class OptionBasis:
    """What people of the culture said that an option is matched to."""

    answer: str
    """Their answer, in the asked language where the bank has it."""
    question: str
    """The question they answered, in the asked language where the bank has it."""
    ref: str
    """Citation id of the row (`blend:ESP#Al-en-01`)."""
    similarity: float
    """Similarity of that question to the asked one."""
    closeness: float
    """How close the option is to the answer: 1 for the same words, else the vectors' cosine."""
    same: bool
    """The option is that answer (the same words after normalisation, or one within the other)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "question": self.question,
            "ref": self.ref,
            "similarity": round(self.similarity, 4),
            "closeness": round(self.closeness, 4),
            "same": self.same,
        }


@dataclass
class OptionEvidence:
    """The options of one question scored against one culture's evidence."""

    probs: list[float]
    """One probability per option that it is the culture's most common answer (sums to 1)."""
    bases: list[OptionBasis | None]
    """Per option, the culture's answer it is closest to (None when the culture has none)."""
    informative: bool
    """False when the culture has no evidence near the question: `probs` are then uniform."""
    sources: list[Source] = field(default_factory=list)
    """One `memory` source per distinct basis row, in option order of likelihood."""
    features: list[dict[str, float]] = field(default_factory=list)
    """Per option, the feature values (the trace's why)."""
    similarity: float = 0.0
    """Similarity of the culture's closest question."""
    notes: list[str] = field(default_factory=list)
    """Why it is (not) informative, for the trace."""

    @property
    def people_said(self) -> bool:
        """Some option is, word for word, an answer the culture's people gave."""
        return any(b is not None and b.same for b in self.bases)

    def to_json(self) -> dict[str, Any]:
        return {
            "probs": [round(p, 4) for p in self.probs],
            "bases": [b.to_json() if b else None for b in self.bases],
            "informative": self.informative,
            "similarity": round(self.similarity, 4),
            "features": self.features,
            "notes": list(self.notes),
        }


def words_match(option: str, ann: Annotation) -> float:
    """1 for the same normalised words as one of the annotation's variants; for one within the
    other, 0.5 plus half their overlap; else 0."""
    own = normalize_answer(option)
    if not own:
        return 0.0
    mine = frozenset(own.split())
    best = 0.0
    for variant in (*ann.en_answers, *ann.answers):
        theirs = normalize_answer(variant)
        if not theirs:
            continue
        if theirs == own:
            return 1.0
        words = frozenset(theirs.split())
        if mine <= words or words <= mine:
            best = max(best, 0.5 + 0.5 * len(mine & words) / len(mine | words))
    return best


def _option_vectors(index: Any, options: Sequence[str]) -> np.ndarray:
    """Unit vectors of the options: the shipped answer vectors where an option is a known
    answer, else embedded now (not kept: a user's options must not grow the index)."""
    known = getattr(index, "_answers", {})
    missing = [o for o in dict.fromkeys(options) if o not in known]
    fresh = dict(zip(missing, embed_texts(missing), strict=True)) if missing else {}
    return np.stack([np.asarray(known.get(o, fresh.get(o)), dtype=np.float32) for o in options])


def _uniform(options: Sequence[str], note: str) -> OptionEvidence:
    n = len(options)
    return OptionEvidence([1.0 / n] * n if n else [], [None] * n, False, notes=[note])


def option_features(
    index: Any,
    question: str,
    culture: str,
    options: Sequence[str],
    *,
    language: str | None = None,
    exclude_ids: Collection[str] = (),
) -> tuple[np.ndarray, list[tuple[int, float, float]], np.ndarray, str] | None:
    """(features: options × `FEATURES`, each option's basis row as (row, question similarity,
    closeness), the culture's question similarities, the language matched in); None when the
    culture has no questions."""
    table = answer_table(index)
    if culture not in table.cultures or not options:
        return None
    own = table.cultures.index(culture)
    sims, lang, vec = index.match(question, culture, language, exclude_ids)
    excluded = set(exclude_ids)
    # Every culture's questions against the asked one, in the vector the culture's own match
    # was made with (a local-language question: its estimated English vector).
    per_culture = []
    for ci, c in enumerate(table.cultures):
        if ci == own:
            s = np.asarray(sims, dtype=np.float64)
        elif len(vec):
            s = (index._culture(c).mapped @ project(vec, index.metric)).astype(np.float64)
        else:
            s = np.zeros(len(table.questions[ci]))
        if excluded:
            s = s.copy()
            s[[i for i, q in enumerate(table.questions[ci]) if q.id in excluded]] = -np.inf
        per_culture.append(s)
    row_sims = np.concatenate(per_culture)[_row_offsets(table) + table.position]
    cos = _option_vectors(index, options) @ table.vectors.T  # options × rows
    for k, option in enumerate(options):  # the same words are the same answer, in any script
        cos[k, table.by_text.get(normalize_answer(option), [])] = 1.0
    # whose: a vote of every culture's rows, by question and answer similarity.
    logw = (row_sims - 1.0) / WHOSE_QUESTION_T + (cos - 1.0) / WHOSE_ANSWER_T
    logw = logw - logw.max(axis=1, keepdims=True)
    votes = np.exp(logw)
    mine = table.owner == own
    whose = votes[:, mine].sum(axis=1) / np.maximum(votes.sum(axis=1), 1e-300)
    # support / near: the culture's own most similar questions.
    s_own = per_culture[own]
    order = [i for i in np.argsort(-s_own, kind="stable")[:NEIGHBOURS] if np.isfinite(s_own[i])]
    support = np.zeros(len(options))
    near = np.zeros(len(options))
    if order:
        top = s_own[order]
        w = np.exp((top - top.max()) / TEMPERATURE)
        w /= w.sum()
        own_rows = np.flatnonzero(mine)
        by_question: dict[int, list[int]] = {}
        for r in own_rows:
            by_question.setdefault(int(table.position[r]), []).append(int(r))
        for wj, qi in zip(w, order, strict=True):
            q = table.questions[own][qi]
            rows = by_question.get(int(qi), [])
            for k, option in enumerate(options):
                support[k] += wj * sum(
                    table.share[r] * words_match(option, q.annotations[table.annotation[r]])
                    for r in rows
                )
                near[k] += wj * max(
                    (table.share[r] * max(float(cos[k, r]), 0.0) for r in rows), default=0.0
                )
    letters = table.letters_log_odds(culture, options)
    x = np.stack([support, near, np.log(whose + WHOSE_FLOOR), letters], axis=1)
    bases: list[tuple[int, float, float]] = []
    for k in range(len(options)):
        best = int(np.argmax(np.where(mine, logw[k], -np.inf)))
        bases.append((best, float(row_sims[best]), float(cos[k, best])))
    return x, bases, s_own, lang


def _row_offsets(table: Any) -> np.ndarray:
    """Per row, where its culture's questions start in the concatenated similarities."""
    starts = np.cumsum([0] + [len(qs) for qs in table.questions[:-1]])
    return np.asarray(starts, dtype=np.int64)[table.owner]


def score_options(
    index: Any,
    question: str,
    culture: str,
    options: Sequence[str],
    *,
    language: str | None = None,
    exclude_ids: Collection[str] = (),
    weights: Sequence[float] = WEIGHTS,
) -> OptionEvidence:
    """The options scored against `culture`'s evidence (see the module docstring)."""
    found = option_features(
        index, question, culture, options, language=language, exclude_ids=exclude_ids
    )
    if found is None:
        return _uniform(options, f"no answers for {culture}")
    x, rows, s_own, lang = found
    best = float(np.max(s_own[np.isfinite(s_own)], initial=0.0))
    p = index.model.params
    threshold = p.min_similarity_local if lang != "en" else MIN_SIMILARITY
    if best < threshold:
        out = _uniform(options, f"closest question similarity {best:.3f} < {threshold:.3f}")
        out.similarity = best
        return out
    z = SCALE * (x @ np.asarray(weights, dtype=np.float64))
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    table = answer_table(index)
    local = lang != "en"
    bases: list[OptionBasis | None] = []
    for k, (r, qsim, closeness) in enumerate(rows):
        q: BankQuestion = table.questions[int(table.owner[r])][int(table.position[r])]
        ann = q.annotations[int(table.annotation[r])]
        same = words_match(options[k], ann) >= SAME_ANSWER
        said = ann.answers[0] if local and ann.answers else (ann.en_answers or ann.answers)[0]
        bases.append(
            OptionBasis(
                answer=said,
                question=q.question if local else q.en_question,
                ref=q.ref,
                similarity=qsim,
                closeness=1.0 if same else closeness,
                same=same,
            )
        )
    sources: list[Source] = []
    for k in np.argsort(-probs, kind="stable").tolist():
        b = bases[k]
        if b is not None and all(s["ref"] != b.ref for s in sources):
            own = table.questions[table.cultures.index(culture)]
            cited = next(q for q in own if q.ref == b.ref)
            sources.append(source(cited, b.similarity, local))
    return OptionEvidence(
        probs=[float(v) for v in probs],
        bases=bases,
        informative=True,
        sources=sources,
        features=[{f: round(float(v), 4) for f, v in zip(FEATURES, row, strict=True)} for row in x],
        similarity=best,
        notes=[f"options scored from {culture}'s evidence: closest question similarity {best:.3f}"],
    )
