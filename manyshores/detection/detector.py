"""The culture router: signals from the conversation combined into a calibrated posterior.

API (what the graph's `detect` node calls)::

    from manyshores.detection import CultureDetector
    detector = CultureDetector.from_settings(settings)   # cheap; models load on first use
    detector.load()                                      # optional warm-up
    posterior = detector.detect(
        messages,                 # langchain-core messages or {"role", "content"} dicts
        explicit=None,            # culture id forced by the caller (`culture=`)
        profile=None,             # {culture id: weight}: a stored profile, the own culture at 1.0
        history=None,             # earlier `Turn`s of the thread (state["history"])
        candidates=None,          # restrict to these ids (default: settings.detect_cultures)
    )                             # -> CulturePosterior
    detector.detect_task(text)    # -> TaskInfo
    detector.normalize("kr")      # -> "KOR" (raises InvalidInputError)

Signals (each kept in `posterior["signals"]` with what it saw) add log-odds to cultures
(weights: `SignalWeights`):

- `explicit` (`culture=`), `profile` (a stored profile), and `own`: the person's own culture
  (the profile's clear lead, e.g. `user_culture=`), strong enough that a question naming nothing
  is answered for it, stronger when the message points at the speaker (`we`, `our`, `here`, in
  the registry languages), weak when the message names or implies another culture;
- `mention`: country names in any registry language and demonyms;
- cues, each its own kind: `city`, `festival`, `dish`, `currency`, `landmark` (`detection.cues`):
  below a named place and above the language; a cue several cultures share (`Eid`, `Christmas`)
  spreads over them, ranked by their size, so it is never confidently one of them;
- `language`: the language of the message (script rules + py3langid + word lists), spread over
  the cultures that speak it by CLDR population share and ranked among them by speakers — a
  shared language such as Spanish keeps the posterior ambiguous;
- `history:*`: the same cues in earlier turns (assistant turns count at 0.3), fading by
  `settings.detect_history_decay` per turn; everything earlier turns say counts at a quarter
  when the current message names a place or a specific cue itself (it moved on); language is
  not summed over turns (each culture keeps its best credit); `history`: earlier turns'
  posteriors (`state["history"]`);
- `embedding` (optional, `settings.detect_embeddings`): similarity of the message to culture
  descriptions; weak and a model forward per message, so off by default.

The summed evidence goes through a softmax over the candidates (uniform prior). `unknown` means no
signal reached `detect_unknown_evidence`; `ambiguous` means the top culture is below
`detect_ambiguous_top_p` or leads the second by less than `detect_ambiguous_margin`.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from manyshores.config import Settings, get_settings
from manyshores.cultures import CultureRegistry
from manyshores.detection.conversation import by_distance, messages_of
from manyshores.detection.follow_up import FollowUp, conversation_query
from manyshores.detection.language import LanguageGuess, LanguageIdentifier
from manyshores.detection.mentions import PLACE_KINDS, Mention, MentionIndex
from manyshores.detection.own import own_culture, speaker_word
from manyshores.detection.posterior import MAX_SIGNALS, posterior_of
from manyshores.detection.prebuilt import shared_index, shared_registry
from manyshores.detection.signals import (
    Evidence,
    Seen,
    cue_signals,
    language_credit,
    place_signals,
    pointed_at,
)
from manyshores.detection.speakers import SpeakerPrior
from manyshores.detection.task import detect_task
from manyshores.detection.weights import SignalWeights
from manyshores.errors import InvalidInputError
from manyshores.state import CulturePosterior, TaskInfo, Turn

__all__ = ["CultureDetector", "SignalWeights", "shared_registry"]

_SCAN_CHARS = 4000
"""Longer messages are scanned for mentions in their first 3000 and last 1000 characters."""


@dataclass(frozen=True)
class _Analysis:
    mentions: tuple[Mention, ...]
    language: LanguageGuess | None


class CultureDetector:
    """Culture and task detection; build once per process (the heavy parts load lazily)."""

    def __init__(
        self,
        registry: CultureRegistry | None = None,
        settings: Settings | None = None,
        *,
        candidates: Iterable[str] | None = None,
        weights: SignalWeights | None = None,
        language: LanguageIdentifier | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.weights = weights or SignalWeights()
        self._registry = registry
        self._language = language or LanguageIdentifier()
        self._index: MentionIndex | None = None
        self._speakers: SpeakerPrior | None = None
        self._lock = threading.RLock()
        self._cache: OrderedDict[str, _Analysis] = OrderedDict()
        self._descriptions: dict[str, list[float]] | None = None
        if candidates is None and self.settings.detect_cultures:
            candidates = [c for c in self.settings.detect_cultures.split(",") if c.strip()]
        self._default_candidates = list(candidates) if candidates is not None else None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CultureDetector:
        """A detector configured by `settings` (nothing is loaded until first use)."""
        return cls(settings=settings or get_settings())

    # ------------------------------------------------------------------ loading
    @property
    def registry(self) -> CultureRegistry:
        with self._lock:
            if self._registry is None:
                self._registry = shared_registry()
            return self._registry

    @property
    def index(self) -> MentionIndex:
        with self._lock:
            if self._index is None:
                self._index = shared_index(self.registry)
            return self._index

    @property
    def speakers(self) -> SpeakerPrior:
        with self._lock:
            if self._speakers is None:
                self._speakers = SpeakerPrior(self.registry)
            return self._speakers

    def load(self) -> CultureDetector:
        """Build the registry, the mention and cue index and the language model now."""
        _ = self.index
        self.speakers.population()
        self._language.load()
        return self

    def clear_cache(self) -> None:
        """Forget the per-text analyses (mentions, language) kept for earlier turns."""
        with self._lock:
            self._cache.clear()

    def normalize(self, culture: str) -> str:
        """Canonical culture id for an id, code or name; a phrase that names exactly one culture
        (`Northern Nigeria`, `the US`, `Nairobi`) works too. Raises InvalidInputError otherwise."""
        try:
            return self.registry.normalize(culture)
        except InvalidInputError:
            found = {c for m in self.index.find(str(culture), PLACE_KINDS) for c in m.cultures}
            if len(found) == 1:
                return found.pop()
            raise

    def detect_task(self, text: str) -> TaskInfo:
        """Task type and options of a user message (see `manyshores.detection.task`)."""
        return detect_task(text)

    def places_in(self, text: str) -> list[Mention]:
        """The places and demonyms `text` names, left to right (how a follow-up tells whether it
        names a new place)."""
        scanned = text if len(text) <= _SCAN_CHARS else text[:_SCAN_CHARS]
        return self.index.find(scanned, PLACE_KINDS)

    def read_follow_up(self, earlier: Sequence[str], text: str) -> FollowUp:
        """The question `text` asks after the user's `earlier` messages (oldest first): a short
        follow-up replaces the place or topic it names and keeps the rest (`follow_up`)."""
        return conversation_query(
            earlier, text, self.places_in, lambda t: self.detect_task(t)["question"]
        )

    def without_places(self, text: str) -> str:
        """The text with its place names and demonyms replaced by neutral words, so a model asked
        for a general answer is not invited to invent one culture's customs."""
        scanned = text if len(text) <= _SCAN_CHARS else text[:_SCAN_CHARS]
        out, last = [], 0
        for m in sorted(self.index.find(scanned, PLACE_KINDS), key=lambda m: m.start):
            if m.start < last:
                continue
            out.append(text[last : m.start])
            out.append("local" if m.kind == "demonym" else "most places")
            last = m.end
        out.append(text[last:])
        return "".join(out)

    def language_of(self, text: str) -> tuple[str, float] | None:
        """(ISO 639-1 language, confidence) of a message, or None when it cannot tell."""
        guess = self._analyse(text).language
        return (guess.lang, guess.confidence) if guess is not None else None

    def candidate_ids(self, candidates: Iterable[str] | None = None) -> list[str]:
        """Normalised candidate ids (default: the deployment's, else the whole registry)."""
        chosen = candidates if candidates is not None else self._default_candidates
        if chosen is None:
            return self.registry.ids()
        return list(dict.fromkeys(self.normalize(c.strip()) for c in chosen))

    # ------------------------------------------------------------------ analysis
    def _analyse(self, text: str) -> _Analysis:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        # Long messages: the head and tail carry the cues (and keep detection within budget).
        scanned = text if len(text) <= _SCAN_CHARS else f"{text[:3000]}\n{text[-1000:]}"
        analysis = _Analysis(tuple(self.index.find(scanned)), self._language.identify(text[:2000]))
        with self._lock:
            self._cache[text] = analysis
            if len(self._cache) > 4096:
                self._cache.popitem(last=False)
        return analysis

    def detect(
        self,
        messages: Sequence[Any] | str,
        explicit: str | None = None,
        profile: dict[str, float] | None = None,
        candidates: Iterable[str] | None = None,
        history: Sequence[Turn] | None = None,
    ) -> CulturePosterior:
        """The culture posterior for a conversation (its last user message in context)."""
        w = self.weights
        cands = self.candidate_ids(candidates)
        explicit_id = self.normalize(explicit) if explicit else None
        if explicit_id and explicit_id not in cands:
            cands.append(explicit_id)
        evidence = Evidence(set(cands))
        if explicit_id:
            evidence.add("explicit", explicit_id, w.explicit, f"culture={explicit_id}")
        known = {self.normalize(c): float(s) for c, s in (profile or {}).items()
                 if self.registry.is_known(c)}  # fmt: skip
        for cid, share in known.items():
            evidence.add("profile", cid, w.profile * share, f"profile {cid} ({share:.2f})")

        turns = by_distance(messages_of(messages), w.max_turns)
        current = self._analyse(turns[0][1].text) if turns and turns[0][0] == 0 else None
        lang = current.language.lang if current and current.language else None
        named = pointed_at(current.mentions, lang, w, evidence.allowed) if current else set()
        own = own_culture(known)
        self._turn_signals(turns, evidence, named, own is not None)
        decay = self.settings.detect_history_decay
        moved_on = w.history_when_named if named else 1.0
        for back, turn in enumerate(reversed(list(history or [])[-w.max_turns :]), start=1):
            for score in turn.get("cultures", [])[:3]:
                evidence.add("history", score["id"], w.history_turn * score["p"] * decay**back
                             * moved_on, f"turn -{back}: {score['id']} p={score['p']:.2f}")  # fmt: skip
        if own is not None and current is not None:
            self._own_signals(own, turns[0][1].text, current, lang, named, evidence)
        if self.settings.detect_embeddings and current is not None:
            self._embedding_signals(turns[0][1].text, cands, evidence)
        signals = evidence.signals(MAX_SIGNALS)
        return posterior_of(cands, evidence.totals, signals, self.settings)

    def _turn_signals(
        self,
        turns: list[tuple[int, Any]],
        evidence: Evidence,
        named: set[str],
        own_known: bool,
    ) -> None:
        """Places, cues and language of every turn, fading with distance."""
        w = self.weights
        decay = self.settings.detect_history_decay
        # Language evidence is not summed over turns (five English turns would outweigh a named
        # place); each culture keeps the strongest (decayed) credit any user turn gives it, so an
        # earlier message in Assamese still counts after the user switches to English.
        language: dict[str, tuple[float, Seen, str]] = {}
        for distance, msg in turns:
            current = distance == 0 and msg.role == "user"
            factor = decay**distance * (w.assistant if msg.role == "assistant" else 1.0)
            prefix = "" if current else "history:"
            if not current and named:
                factor *= w.history_when_named
            analysis = self._analyse(msg.text)
            guess = analysis.language
            lang = guess.lang if guess is not None else None
            place_signals(analysis.mentions, factor, prefix, evidence, self.registry, w, guess)
            cue_signals(analysis.mentions, factor, prefix, evidence, self.registry, w, lang)
            if guess is None or msg.role != "user":
                continue
            credit_factor = factor * (w.own_language if own_known else 1.0)
            if (
                current
                and named
                and not any(self.registry.get(c).language_share(guess.lang) > 0 for c in named)
            ):
                credit_factor *= w.language_elsewhere  # a Greek question about Diwali
            credit = language_credit(guess, credit_factor, evidence.allowed, self.registry, w,
                                     self.speakers)  # fmt: skip
            kind = f"{prefix}language"
            for cid, (weight, seen) in credit.items():
                old = language.get(cid)
                if old is None or weight > old[0]:
                    language[cid] = (weight, seen, kind)
        for cid, (weight, seen, kind) in language.items():
            evidence.add(kind, cid, weight, seen)

    def _own_signals(
        self,
        own: str,
        text: str,
        current: _Analysis,
        lang: str | None,
        named: set[str],
        evidence: Evidence,
    ) -> None:
        """The person's own culture: the topic unless the message names or implies another."""
        w = self.weights
        family = {own, *self.registry.children(own)}
        parent = self.registry.get(own).parent
        if parent:
            family.add(parent)
        elsewhere = bool(named - family)
        places = {c for m in current.mentions if m.kind in PLACE_KINDS for c in m.cultures}
        weight = w.own * (w.own_elsewhere if elsewhere else 1.0)
        evidence.add("own", own, weight, f"your culture ({own})")
        spoken = speaker_word(text, lang)
        if spoken:
            factor = w.own_elsewhere if places - family else 1.0
            evidence.add("own", own, w.own_speaker * factor, f"{spoken!r} points at you ({own})")

    def _embedding_signals(self, text: str, cands: list[str], evidence: Evidence) -> None:
        from manyshores.memory.embeddings import embed

        descriptions = self._culture_vectors(cands)
        query = embed([text])[0]
        sims = {cid: sum(a * b for a, b in zip(query, vec, strict=False))
                for cid, vec in descriptions.items()}  # fmt: skip
        if len(sims) < 2:
            return
        mean = sum(sims.values()) / len(sims)
        std = math.sqrt(sum((s - mean) ** 2 for s in sims.values()) / len(sims)) or 1.0
        for cid, s in sims.items():
            z = (s - mean) / std
            if z > 2.0:
                evidence.add("embedding", cid, self.weights.embedding * (z - 2.0),
                             f"similar to {cid}'s description ({s:.2f})")  # fmt: skip

    def _culture_vectors(self, cands: list[str]) -> dict[str, list[float]]:
        from manyshores.memory.embeddings import embed

        with self._lock:
            if self._descriptions is None:
                self._descriptions = {}
            missing = [c for c in cands if c not in self._descriptions]
            if missing:
                texts = [self._description(c) for c in missing]
                for cid, vec in zip(missing, embed(texts), strict=True):
                    self._descriptions[cid] = vec
            return {c: self._descriptions[c] for c in cands}

    def _description(self, cid: str) -> str:
        c = self.registry.get(cid)
        demonyms = ", ".join(c.demonyms.get("en", [])[:2])
        return f"{c.name} ({demonyms}), {c.region}."
