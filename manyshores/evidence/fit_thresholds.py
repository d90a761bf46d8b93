"""The ranker's two decision thresholds, chosen after its score is fitted.

- the gate (`min_lead_chance`): the highest lead-answer chance below which answers are withheld
  that costs the cross-validated lead accuracy at most `MAX_GATE_COST` in either language;
- the similarity floors (`min_similarity`, `min_similarity_local`): how close the nearest bank
  question must be for a question to count as one the evidence answers, from off-topic
  questions and real ones asked of a bank that does not hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from manyshores.evidence.bank import AnswerBank
from manyshores.evidence.fit_cv import Lead
from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.ranker import RankerParams

GATES = (0.05, 0.1, 0.15, 0.2, 0.25)
"""Lead chances tried as the `min_lead_chance` gate."""
MAX_GATE_COST = 0.005
"""Cross-validated lead accuracy the gate may cost in either language (right answers withheld)."""
OFF_TOPIC = (
    "How do I fix my bicycle chain?",
    "What is the derivative of x squared?",
    "How many bytes are in a kilobyte?",
    "Explain how a transistor works.",
    "What is the boiling point of mercury?",
    "How do I reset my router password?",
    "Write a haiku about the ocean.",
    "What is the capital of Australia?",
    "How far is the Moon from the Earth?",
    "Why is the sky blue?",
    "How do I sort a list in Python?",
    "What causes earthquakes?",
)
"""Questions no everyday-culture evidence answers: `usable` must be false for them."""


def gate_table(leads: Sequence[Lead]) -> list[dict[str, Any]]:
    """For each gate of `GATES`, per language: the cross-validated lead accuracy (mean over
    cultures) with answers below the gate withheld, its cost against no gate (also for any of
    the first three answers), and how many right and wrong lead answers it withholds."""

    def over(per: dict[str, dict[str, list[bool]]], key: str) -> float:
        """Mean over cultures of one column."""
        return float(np.mean([np.mean(v[key]) for v in per.values()]))

    out = []
    for gate in GATES:
        row: dict[str, Any] = {"min_lead_chance": gate}
        for lang in sorted({r.language for r in leads}):
            mine = [r for r in leads if r.language == lang]
            per: dict[str, dict[str, list[bool]]] = {}
            for r in mine:
                cell = per.setdefault(
                    r.culture, {"lead": [], "gated": [], "top3": [], "top3_g": []}
                )
                kept = r.chance >= gate
                cell["lead"].append(r.right)
                cell["gated"].append(r.right and kept)
                cell["top3"].append(r.top3)
                cell["top3_g"].append(r.top3 and kept)
            row[lang] = {
                "lead": round(over(per, "gated"), 4),
                "cost": round(over(per, "lead") - over(per, "gated"), 4),
                "top3_cost": round(over(per, "top3") - over(per, "top3_g"), 4),
                "right_withheld": sum(r.right and r.chance < gate for r in mine),
                "wrong_withheld": sum(not r.right and r.chance < gate for r in mine),
                "questions": len(mine),
            }
        out.append(row)
    return out


def choose_gate(table: Sequence[dict[str, Any]]) -> float:
    """The highest gate whose cost stays within `MAX_GATE_COST` in every language (0: none)."""
    ok = [
        float(r["min_lead_chance"])
        for r in table
        if all(v["cost"] <= MAX_GATE_COST for k, v in r.items() if isinstance(v, dict))
    ]
    return max(ok, default=0.0)


def calibrate_threshold(
    index: EvidenceIndex,
    index_of: Callable[[str], EvidenceIndex] | None = None,
    asked: AnswerBank | None = None,
) -> dict[str, float]:
    """Similarity of the closest question for off-topic questions and for real ones (own row
    left out), per language of the question. `asked`: the real questions (else `index`'s);
    `index_of`: the index each is asked of (one whose metric has not learnt from it), else
    `index`."""
    off = []
    for culture in index.cultures():
        for text in OFF_TOPIC:
            sims, _ = index.similarities(text, culture, "en")
            off.append(float(sims.max()))
    real: dict[str, list[float]] = {"en": [], "local": []}
    questions = (asked or index.bank).questions
    for culture in index.cultures():
        for q in questions.get(culture, []):
            texts = [("en", q.en_question)]
            if q.language != "en":
                texts.append(("local", q.question))
            asked_of = index_of(q.id) if index_of is not None else index
            for key, text in texts:
                sims, _ = asked_of.similarities(
                    text, culture, "en" if key == "en" else q.language, [q.id]
                )
                top = asked_of._top(culture, sims, [q.id], 1)
                if top:
                    real[key].append(top[0][1])
    return {
        "off_topic_max": float(np.max(off)),
        "real_en_p5": float(np.percentile(real["en"], 5)),
        "real_local_p5": float(np.percentile(real["local"], 5)),
    }


def set_thresholds(params: RankerParams, cal: dict[str, float]) -> None:
    """English: just above the most similar off-topic question (off-topic never passes; the
    few real questions below it say "no information"). Local language: the character scale has
    no off-topic reference set, so 95% of real questions pass."""
    params.min_similarity = round(cal["off_topic_max"] + 0.01, 3)
    params.min_similarity_local = round(cal["real_local_p5"], 3)
