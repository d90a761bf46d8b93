"""Which answer leads an evidence reply, how the reply is worded, and how sure the lead is.

When the closest bank question is the asked one (`wording.WordingModel.is_match`), its own
answers lead in the order people gave them, most given first: the ranker learnt on questions
that were never in the bank, so it has not learnt to trust a question's own answers, and leads
with a neighbour's answer that more annotators share elsewhere ("kebab" for the longest night of
the year in Iran, whose own top answer is "pomegranate"). The ranker keeps its lead only when
its confidence in it beats the own answer's by `WordingModel.override`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from manyshores.evidence.bank import BankQuestion
from manyshores.evidence.candidates import Gathered, consensus_wording
from manyshores.evidence.types import Candidate
from manyshores.evidence.wording import Wording, WordingModel


@dataclass
class Lead:
    """The decision on one ranked question."""

    order: list[int]
    """Candidate indices, best first (all of them)."""
    wording: Wording
    """`answer` or `related` (`none` is decided by usability, outside)."""
    confidence: float
    """Calibrated chance that `order[0]` is right."""
    matched: bool
    """The closest bank question is the asked one."""


def own_answers(cands: Sequence[Gathered]) -> list[int]:
    """Candidates given to the closest question (neighbour 0), most given there first."""
    own = [i for i, c in enumerate(cands) if 0 in c.hits]
    return sorted(own, key=lambda i: (cands[i].hits[0][1], -cands[i].hits[0][0], i))


LIKELY_SAME = 0.5
"""A closest question the match rule gives at least this chance of being the asked one, below
its threshold, leads with its own answers, worded `related` (it names that question). Chosen on
the tuning part of the evaluation half (`manyshores eval evidence --part tune`; lead right 0.315
→ 0.325 English, 0.251 → 0.252 local, the same for any value 0.4–0.6); on the held-out part
unchanged (0.291 / 0.231); hand-written rewordings of bank questions: their own top answer leads
16 of 16 English and 30 of 39 local (15 and 23 without)."""


def decide(
    cands: Sequence[Gathered],
    probs: np.ndarray,
    chances: np.ndarray | None,
    model: WordingModel | None,
    group: str,
    match: float,
) -> Lead:
    """The order, wording and confidence of one question's candidates (`probs`: the ranker's
    softmax scores; `chances`: its per-candidate chances, None for the linear fallback;
    `match`: the match rule's probability that the closest question is the asked one)."""
    ranked = np.argsort(-probs, kind="stable").tolist()
    sure = chances if chances is not None else probs

    def calibrated(i: int, same: float | None = None) -> float:
        if model is None:
            return round(float(sure[i]), 4)
        return model.confidence(float(sure[i]), group, same)

    matched = model is not None and model.is_match(match, group)
    own = own_answers(cands) if matched else []
    if not own:
        likely = own_answers(cands) if match >= LIKELY_SAME else []
        if likely and ranked[0] != likely[0]:
            # Probably the asked question, not sure enough to say so: its own answers lead,
            # worded as the related question they are.
            rest = [i for i in ranked if i not in likely]
            return Lead([*likely, *rest], "related", calibrated(likely[0]), False)
        return Lead(ranked, "related", calibrated(ranked[0]), matched)
    assert model is not None
    top = ranked[0]
    if top not in own and calibrated(top) - calibrated(own[0]) >= model.override:
        # The ranker is confident otherwise: its lead stays, worded as what it is.
        return Lead(ranked, "related", calibrated(top), matched)
    rest = [i for i in ranked if i not in own]
    return Lead([*own, *rest], "answer", calibrated(own[0], match), matched)


def candidate(
    c: Gathered,
    i: int,
    qs: Sequence[BankQuestion],
    ss: Sequence[float],
    probs: np.ndarray,
    features: tuple[Sequence[str], np.ndarray],
    local: bool,
    matched: bool,
) -> Candidate:
    """Candidate `i` as returned: worded as most of its annotators said it (in the culture's
    language when `local`), or, for the asked question's own answer (`matched`), as its own
    people put it; cited from its sources, most similar first; named with the source question
    where it was given most (the most similar of those where it was the most given answer)."""
    cited = sorted(c.hits, key=lambda j: -ss[j])
    said = c.annotations
    if matched and 0 in c.hits:
        mine = set(qs[0].annotations)
        own = [a for a in c.annotations if a in mine]
        if any(a.answers if local else a.en_answers for a in own):  # else the merged wording's
            said = own
    english = consensus_wording(said, c.english, local=False)
    named = 0 if matched and 0 in c.hits else min(c.hits, key=lambda j: (c.hits[j][1], -ss[j]))
    source = qs[named]
    names, x = features
    return Candidate(
        text=consensus_wording(said, c.local, local=True) if local else english,
        english=english,
        score=float(probs[i]),
        support=sum(n for n, _ in c.hits.values()),
        refs=[qs[j].ref for j in cited],
        question=source.en_question,
        question_local=source.question if source.language != "en" else "",
        similarity=round(ss[named], 4),
        features={name: round(float(v), 4) for name, v in zip(names, x[i], strict=True)},
        first=c.hits[named][1] == 0,
    )
