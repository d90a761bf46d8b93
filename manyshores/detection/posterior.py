"""Summed evidence → the culture posterior: a softmax over the candidates, flagged `unknown`
when nothing reached `detect_unknown_evidence` and `ambiguous` when no culture clearly leads."""

from __future__ import annotations

import math

from manyshores.config import Settings
from manyshores.state import CulturePosterior, CultureScore, Signal

MAX_SIGNALS = 24
"""Strongest signals kept in the posterior (the trace shows them)."""


def posterior_of(
    cands: list[str], evidence: dict[str, float], signals: list[Signal], settings: Settings
) -> CulturePosterior:
    """The posterior over `cands` (uniform prior) from the log-odds in `evidence`; `signals`
    are the strongest contributions behind it."""
    strongest = max(evidence.values(), default=0.0)
    if strongest < settings.detect_unknown_evidence:
        return {"cultures": [], "ambiguous": False, "unknown": True, "signals": signals}
    t = max(settings.detect_temperature, 1e-3)
    top = max(evidence.values())
    # Cultures without evidence share one logit; sum them in closed form.
    silent = len(cands) - len(evidence)
    exps = {cid: math.exp((e - top) / t) for cid, e in evidence.items()}
    z = sum(exps.values()) + silent * math.exp(-top / t)
    ranked = sorted(exps.items(), key=lambda kv: (-kv[1], kv[0]))
    cultures: list[CultureScore] = [
        {"id": cid, "p": round(v / z, 4)} for cid, v in ranked[:10] if v / z >= 5e-5
    ]
    if len(cultures) < 10 and silent:
        p_silent = round(math.exp(-top / t) / z, 4)
        if p_silent >= 0.01:
            rest = sorted(c for c in cands if c not in evidence)
            cultures += [{"id": cid, "p": p_silent} for cid in rest[: 10 - len(cultures)]]
    p1 = cultures[0]["p"]
    p2 = cultures[1]["p"] if len(cultures) > 1 else 0.0
    ambiguous = p1 < settings.detect_ambiguous_top_p or p1 - p2 < (settings.detect_ambiguous_margin)
    return {"cultures": cultures, "ambiguous": ambiguous, "unknown": False, "signals": signals}
