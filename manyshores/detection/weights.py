"""How much each kind of evidence weighs, in log-odds added to a culture.

Tuned on the BLEnD dev set and the tuning part of the hand-written cue cases
(`manyshores/data/detect/cues.jsonl`); the held-out part and the BLEnD test set were only
scored (`docs/detection.md`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalWeights:
    """Log-odds each kind of evidence adds."""

    name: float = 8.0
    """A country or region named in its own language or English."""
    foreign_name: float = 4.0
    """A country named in a language its people do not speak (more often a common word)."""
    demonym: float = 6.5
    """`Mexican`, `한국인`."""
    city: float = 5.5
    """A city or town (GeoNames), or a US state."""
    landmark: float = 6.0
    """A landmark or institution (`Taj Mahal`, `NHS`)."""
    festival: float = 6.0
    """A festival or holiday (`Diwali`, `Chuseok`, `Lebaran`)."""
    currency: float = 5.0
    """A currency's name, symbol or code (`naira`, `₹`, `MXN`)."""
    dish: float = 4.5
    """A dish, drink or custom one culture's people named and others did not (`bougatsa`)."""
    cue_spread: float = 0.5
    """Log-odds a cue loses per e-fold of cultures sharing it: `Christmas` (200 countries)
    says little, `Chuseok` (two) a lot; shared cues spread over their cultures."""
    cue_mass: float = 0.5
    """Times log(a culture's share of the cue relative to the largest): the larger of two
    cities of one name, the more populous of the countries celebrating a festival, leads."""
    shared_cue: float = 0.5
    """Most a cue gives each culture when it points at none in particular (`Eid`, 75 countries:
    below what the language of the message says)."""
    cue_when_named: float = 0.3
    """Factor on a message's cues for cultures other than a place it names (`Semana Santa in
    Greece` is about Greece)."""
    cue_cap: float = 7.5
    """Most the cues of one message give a culture (below a named place)."""
    specific_cue: int = 3
    """A cue shared by at most this many cultures points at them (it moves the topic, like a
    named place); a more widely shared one only spreads a little weight over them..."""
    specific_max: int = 15
    """...unless at most `specific_cue` of its cultures hold half the largest share and it is
    shared by no more than this many (`Diwali`: India among eight countries)."""
    parent_from_child: float = 0.4
    """Share of a region's mention credited to its country (`Assam` also hints at India)."""
    language: float = 1.0
    """Multiplies log(population share / floor) of the message's language."""
    language_floor: float = 1e-3
    """Share assumed for cultures that do not speak the language at all."""
    lingua_franca_floor: float = 0.25
    """Share assumed for every culture when the language is a lingua franca (English, French):
    people everywhere write to a chatbot in English, so English says little."""
    speakers: float = 0.3
    """Times log(speakers of the language in a culture / the most in any culture it credits):
    ranks Mexico before Spain, Germany before Austria before Liechtenstein, without making
    any of them likely (the population share alone puts Argentina, 100% Spanish, first)."""
    language_elsewhere: float = 0.5
    """Factor on the message's language when the message names or implies cultures that do not
    speak it (a Greek question about Diwali is about India)."""
    explicit: float = 12.0
    """`culture=` given by the caller."""
    profile: float = 2.5
    """Times the profile weight of a culture."""
    own: float = 4.0
    """The person's own culture (the profile's clear lead: `user_culture=`, `/culture`), on top
    of its profile weight: a question that names nothing is asked from there."""
    own_speaker: float = 2.5
    """Added to the own culture when the message points at the speaker (`we`, `our`, `here`)."""
    own_elsewhere: float = 0.2
    """Factor on `own` when the message names or implies another culture."""
    own_language: float = 0.5
    """Factor on language evidence when the own culture is known: the language says who is
    writing, which the own culture already says."""
    history_turn: float = 4.0
    """Times p of a culture in an earlier turn's posterior (before decay)."""
    history_when_named: float = 0.25
    """Extra factor on everything earlier turns say when the current message names a place or
    a specific cue itself (the conversation moved on: three turns about the UK, then `and in
    Assam?`)."""
    assistant: float = 0.3
    """Factor on cues found in assistant messages."""
    embedding: float = 1.5
    """Times the standardised similarity to a culture's description (when enabled)."""
    max_turns: int = 8
    """Turns further back than this are ignored (their weight has decayed anyway)."""

    def cue(self, kind: str) -> float:
        """The base weight of a cue kind."""
        return float(getattr(self, kind))
