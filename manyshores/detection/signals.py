"""The evidence one message gives: places named, cues, its language (log-odds per culture).

Each function adds to an `Evidence` tally and records what it saw as signals (the posterior's
`signals`, shown in the trace), so every probability can be traced back to words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from manyshores.cultures import CultureRegistry
from manyshores.detection.cues import CUE_KINDS
from manyshores.detection.language import LanguageGuess
from manyshores.detection.mentions import PLACE_KINDS, Mention
from manyshores.detection.speakers import SpeakerPrior
from manyshores.detection.weights import SignalWeights
from manyshores.state import Signal

NAMED_KINDS = frozenset({"name", "demonym", "foreign"})
"""Mentions that name a place itself (a city is a cue like the others)."""
NOUN_CAPITALISING = frozenset({"de", "lb"})
"""Languages that capitalise every noun: a capital there does not mark a name (`Essen`)."""


Seen = str | tuple[str, tuple[object, ...]]
"""What a signal saw: text, or a format string and its arguments (formatted only for the
signals the posterior keeps: an English message credits some 60 cultures)."""


class Evidence:
    """Log-odds per culture, and the signals behind them."""

    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        """Cultures that may receive evidence (the candidates)."""
        self.totals: dict[str, float] = {}
        """Culture id → summed log-odds."""
        self._raw: list[tuple[str, str, float, Seen]] = []

    def add(self, kind: str, culture: str, weight: float, seen: Seen) -> None:
        """Add `weight` to `culture` (ignored for non-candidates and zero weights)."""
        if culture not in self.allowed or abs(weight) < 1e-6:
            return
        self.totals[culture] = self.totals.get(culture, 0.0) + weight
        self._raw.append((kind, culture, weight, seen))

    def signals(self, limit: int) -> list[Signal]:
        """The `limit` strongest contributions, strongest first."""
        top = sorted(self._raw, key=lambda r: -abs(r[2]))[:limit]
        return [
            {"kind": kind, "culture": culture, "weight": round(weight, 3),
             "evidence": seen if isinstance(seen, str) else seen[0].format(*seen[1])}
            for kind, culture, weight, seen in top
        ]  # fmt: skip


def cue_counts(mention: Mention, lang: str | None) -> bool:
    """Whether a cue counts in a message written in `lang`: a cue that is an everyday word of
    that language (`Nice` in English, `nasi goreng` in Indonesian, `won`) counts only when
    written as a name, with a capital inside a sentence (never in German: every noun has one),
    or, for a currency, right after a number (`10,000 won`)."""
    lang = lang or "en"
    if mention.kind not in CUE_KINDS or lang not in mention.word_in:
        return True
    if mention.kind == "currency" and mention.after_number:
        return True  # `10,000 won`: the currency, not the verb
    return mention.capital and not mention.initial and lang not in NOUN_CAPITALISING


def pointed_at(
    mentions: Sequence[Mention], lang: str | None, weights: SignalWeights, allowed: set[str]
) -> set[str]:
    """Cultures a message names or implies: places, and cues shared by few cultures."""
    found: set[str] = set()
    for m in mentions:
        if m.kind in PLACE_KINDS:
            found.update(c for c in m.cultures if c in allowed)
        elif m.kind in CUE_KINDS and cue_counts(m, lang):
            found.update(c for c in specific_cultures(m, weights) if c in allowed)
    return found


def specific_cultures(mention: Mention, weights: SignalWeights) -> tuple[str, ...]:
    """The cultures a cue points at: all of a few (`Chuseok`: the two Koreas), or the few that
    dominate a cue of some more (`Diwali`: India among eight countries); none for a cue shared
    widely (`Christmas`, `Eid`)."""
    cultures = mention.cultures
    if len(cultures) <= weights.specific_cue:
        return cultures
    if len(cultures) > weights.specific_max:
        return ()
    masses = mention.masses or (1.0,) * len(cultures)
    leading = tuple(c for c, m in zip(cultures, masses, strict=False) if m >= 0.5)
    return leading if len(leading) <= weights.specific_cue else ()


def place_signals(
    mentions: Sequence[Mention],
    factor: float,
    prefix: str,
    evidence: Evidence,
    registry: CultureRegistry,
    weights: SignalWeights,
    language: LanguageGuess | None = None,
) -> None:
    """Countries, regions and demonyms named (the strongest mention per culture)."""
    w = weights
    per_culture: dict[str, tuple[float, str]] = {}
    # A place named in the language the message is written in (Spanish `Kenia` in a Spanish
    # question) is that language's own word for it: a full name, not a weak foreign one.
    # The guess's confidence is low for any short message, so any guess counts; a name that
    # is also a demonym elsewhere keeps its stronger reading's kind.
    own_language = language.lang if language is not None else None
    for m in mentions:
        if m.kind not in PLACE_KINDS or m.kind == "city":
            continue
        kind = "name" if m.kind == "foreign" and own_language in m.languages else m.kind
        base = {"name": w.name, "foreign": w.foreign_name, "demonym": w.demonym}[kind]
        for cid in m.cultures:
            old = per_culture.get(cid)
            if old is None or base > old[0]:
                per_culture[cid] = (base, m.surface)
    mentioned = set(per_culture)
    for cid, (base, surface) in per_culture.items():
        evidence.add(f"{prefix}mention", cid, base * factor, f"mention {surface!r}")
        parent = registry.get(cid).parent
        if parent and parent not in mentioned:
            evidence.add(f"{prefix}mention", parent, base * w.parent_from_child * factor,
                         f"mention {surface!r} (inside {parent})")  # fmt: skip


def cue_signals(
    mentions: Sequence[Mention],
    factor: float,
    prefix: str,
    evidence: Evidence,
    registry: CultureRegistry,
    weights: SignalWeights,
    lang: str | None,
) -> None:
    """Cities, festivals, dishes, currencies and landmarks: each culture a cue points at gets
    the kind's weight, less for a cue many cultures share and for the smaller of them
    (`SignalWeights.cue_spread`, `cue_mass`), at most `shared_cue` from a cue shared so widely
    that it points at none of them (`specific_cultures`); a message's cues give a culture at
    most `cue_cap`, and a region's cue hints at its country."""
    w = weights
    given: dict[str, float] = {}
    # A place the message names is its topic: its cues pointing elsewhere are that place's
    # customs (`Diwali in London`, `tacos in Tokyo`), so they count for less.
    placed = {c for m in mentions if m.kind in NAMED_KINDS for c in m.cultures}
    placed |= {p for c in placed if (p := registry.get(c).parent)}
    for m in mentions:
        if m.kind not in CUE_KINDS or not cue_counts(m, lang):
            continue
        base = w.cue(m.kind) - w.cue_spread * math.log(len(m.cultures))
        masses = m.masses or (1.0,) * len(m.cultures)
        specific = specific_cultures(m, w)
        for cid, mass in zip(m.cultures, masses, strict=False):
            weight = base + w.cue_mass * math.log(mass)
            if cid not in specific:
                weight = min(weight, w.shared_cue)  # `Eid`: one of 75 countries, says little
            if placed and cid not in placed:
                weight *= w.cue_when_named
            weight = min(weight, w.cue_cap - given.get(cid, 0.0))
            if weight <= 0 or cid not in evidence.allowed:
                continue
            given[cid] = given.get(cid, 0.0) + weight
            shared = f", one of {len(m.cultures)}" if len(m.cultures) > 1 else ""
            seen = f"{m.kind} {m.surface!r}{shared}"
            evidence.add(f"{prefix}{m.kind}", cid, weight * factor, seen)
            parent = registry.get(cid).parent
            if parent and parent not in m.cultures:
                evidence.add(f"{prefix}{m.kind}", parent, weight * w.parent_from_child * factor,
                             f"{seen} (inside {parent})")  # fmt: skip


def language_credit(
    guess: LanguageGuess,
    factor: float,
    allowed: set[str],
    registry: CultureRegistry,
    weights: SignalWeights,
    speakers: SpeakerPrior,
) -> dict[str, tuple[float, Seen]]:
    """Culture -> (log-odds, evidence) from the language of one message: spread over the
    cultures that speak it by CLDR population share, ranked within them by speakers."""
    w = weights
    shares = {cid: s for cid, s in registry.language_index.get(guess.lang, {}).items()
              if cid in allowed}  # fmt: skip
    strength = w.language * guess.confidence * factor
    floor = w.language_floor
    if guess.lang in registry.lingua_francas:
        # CLDR counts second-language speakers (half of Greece speaks English): for a
        # lingua franca only the cultures whose main language it is get credit.
        floor = w.lingua_franca_floor
        first = registry.first_languages
        shares = {cid: s for cid, s in shares.items() if first.get(cid) == guess.lang}
    ratios = speakers.log_ratio(guess.lang)
    top = max((ratios.get(cid, 0.0) for cid in shares), default=0.0)
    seen = f"language {guess.lang} ({guess.confidence:.2f}, {guess.method}); {{:.0%}} of {{}}"
    out: dict[str, tuple[float, Seen]] = {}
    for cid, share in shares.items():
        prior = w.speakers * (ratios.get(cid, top) - top)
        credit = strength * max(math.log(max(share, floor) / floor) + prior, 0.0)
        out[cid] = (credit, (seen, (share, cid)))
    return out
