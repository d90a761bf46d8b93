"""What the evidence ranker returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manyshores.state import Source


@dataclass
class Candidate:
    """One answer people gave, ranked for the asked question."""

    text: str
    """The answer in the asked language: the local-language answer when the question was asked
    in the culture's local language and one exists, else the English one."""
    english: str
    """The answer in English (the local text when no English one exists)."""
    score: float
    """Ranker probability in [0, 1] that this is a right answer (candidates sum to at most 1)."""
    support: int
    """Annotators who gave it, summed over the cited questions."""
    refs: list[str]
    """Citation ids of the rows it comes from (`blend:USA#Al-en-17`), best source first."""
    question: str
    """The English wording of the source question it is named with: the asked question's own
    when it is one of its answers, else the most similar where it was given most."""
    similarity: float
    """Similarity of that question to the asked one (0..1)."""
    features: dict[str, float] = field(default_factory=dict)
    """The ranker's inputs, for the trace (why this answer)."""
    question_local: str = ""
    """`question` in the culture's local language (empty when the bank has none)."""
    first: bool = True
    """It was the most given answer of `question` (a reply may say "most often said")."""

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "english": self.english,
            "score": round(self.score, 4),
            "support": self.support,
            "refs": list(self.refs),
            "question": self.question,
            "question_local": self.question_local,
            "first": self.first,
            "similarity": round(self.similarity, 4),
        }


@dataclass
class Evidence:
    """Ranked candidate answers to one question for one culture, with their sources."""

    candidates: list[Candidate]
    """Best first."""
    sources: list[Source]
    """One `memory` source per cited row (ref = `blend:<culture>#<id>`), most similar first."""
    usable: bool
    """False when no question of the culture is similar enough: the answer should then say
    there is no information rather than cite these."""
    similarity: float
    """Similarity of the closest question found (what `usable` is decided on)."""
    language: str
    """Language the question was matched in (`en` or the culture's local language)."""
    notes: list[str] = field(default_factory=list)
    """Why it is (not) usable, for the trace."""
    wording: str = "none"
    """How the reply words it (`wording.Wording`): `answer` when the closest bank question is
    the asked one, `related` when people answered another question, `none` when not usable."""
    confidence: float | None = None
    """Calibrated chance that the lead answer is right (None when not usable)."""
    match: float = 0.0
    """The match rule's probability that the closest bank question is the asked one."""
    matched: str = ""
    """Citation id of the closest bank question (what `match` is about)."""
    match_features: dict[str, float] = field(default_factory=dict)
    """What the match rule read, for the trace."""

    def to_json(self) -> dict[str, Any]:
        return {
            "usable": self.usable,
            "wording": self.wording,
            "confidence": self.confidence,
            "match": round(self.match, 4),
            "matched": self.matched,
            "similarity": round(self.similarity, 4),
            "language": self.language,
            "candidates": [c.to_json() for c in self.candidates],
            "sources": list(self.sources),
            "notes": list(self.notes),
        }
