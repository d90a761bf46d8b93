"""retrieve: cultural context from the knowledge base and the web, and, for an open question,
the human answers of the plausible cultures ranked for it (the evidence the reply is built on).
"""

from __future__ import annotations

from typing import Any

from manyshores.components import Components
from manyshores.state import CulturePosterior, CultureState, EvidenceRecord, Source

EVIDENCE_MIN_P = 0.2
"""Cultures below this posterior probability get no evidence of their own."""
EVIDENCE_MAX_CULTURES = 2
"""At most this many cultures answer side by side (a shared-language question: Spain, Mexico)."""
BLEND_REF = "blend:"
"""Knowledge-base passages with this ref prefix hold the same human answers as the evidence."""


def evidence_cultures(posterior: CulturePosterior) -> list[str]:
    """The cultures an open question is about, most likely first (none when unknown)."""
    if posterior.get("unknown"):
        return []
    plausible = [c["id"] for c in posterior["cultures"] if c["p"] >= EVIDENCE_MIN_P]
    return plausible[:EVIDENCE_MAX_CULTURES]


def make_retrieve(components: Components) -> Any:
    def retrieve(state: CultureState) -> dict[str, Any]:
        query = state.get("query") or state["text"]
        sources, notes = components.get_retriever().retrieve(query, state["posterior"])
        records: list[EvidenceRecord] = []
        evidence_sources: list[Source] = []
        cultures = [] if state["task"]["options"] else evidence_cultures(state["posterior"])
        if cultures:
            # Only when some culture needs it: loading the index took seconds of a cold start.
            index = components.get_evidence()
            for culture in cultures:
                found = index.rank(query, culture, language=state.get("language"))
                records.append(
                    {
                        "culture": culture,
                        "usable": found.usable,
                        "similarity": found.similarity,
                        "candidates": [c.to_json() for c in found.candidates],
                        "notes": list(found.notes),
                        "wording": found.wording,
                        "confidence": found.confidence,
                        "match": round(found.match, 4),
                        "language": found.language,
                    }
                )
                if found.usable:
                    evidence_sources += [s for s in found.sources if s not in evidence_sources]
        if evidence_sources:
            # The same answers as knowledge-base passages would only repeat the evidence.
            covered = {r["culture"] for r in records}
            sources = [
                s
                for s in sources
                if not (s["ref"].startswith(BLEND_REF) and s.get("culture") in covered)
            ]
        return {"sources": [*evidence_sources, *sources], "evidence": records, "notes": notes}

    return retrieve
