"""Evidence-first answers to everyday-culture questions: ranked human answers from BLEnD.

from manyshores.evidence import EvidenceIndex
index = EvidenceIndex.from_package()
ev = index.rank("What do people in Spain eat for breakfast?", "ESP", k=3)
ev.usable, [c.text for c in ev.candidates], ev.sources
"""

from manyshores.evidence.index import EvidenceIndex
from manyshores.evidence.types import Candidate, Evidence

__all__ = ["Candidate", "Evidence", "EvidenceIndex"]
