"""The culture router: signals from the conversation combined into a calibrated posterior.

API (what the graph's `detect` node calls)::

    from manyshores.detection import CultureDetector
    detector = CultureDetector.from_settings(settings)   # cheap; models load on first use
    detector.load()                                      # optional warm-up (~2 s)
    posterior = detector.detect(
        messages,                 # langchain-core messages or {"role", "content"} dicts
        explicit=None,            # culture id forced by the caller (`culture=`)
        profile=None,             # stored user profile {culture id: weight}
        history=None,             # earlier `Turn`s of the thread (state["history"])
        candidates=None,          # restrict to these ids (default: settings.detect_cultures)
    )                             # -> CulturePosterior
    detector.detect_task(text)    # -> TaskInfo
    detector.normalize("kr")      # -> "KOR" (raises InvalidInputError)

Signals (each kept in `posterior["signals"]` with what it saw) add log-odds to cultures:

- `explicit` (`culture=`) and `profile` (a stored user profile);
- `mention`: country names, demonyms and major cities in any registry language;
- `language`: the language of the message (script rules + py3langid + word lists), spread over
  the cultures that speak it in proportion to CLDR population shares — a shared language such as
  Spanish gives Spain and Mexico nearly equal weight, so the posterior stays ambiguous;
- `history:mention` / `history:language`: the same cues in earlier turns (assistant turns count
  for mentions at 0.3), fading by `settings.detect_history_decay` per turn of distance and
  discounted further when the current message names a place itself; language is not summed
  over turns (each culture keeps its best credit); `history`: earlier turns' posteriors
  (`state["history"]`);
- `embedding` (optional, `settings.detect_embeddings`): similarity of the message to culture
  descriptions; weak and a model forward per message, so off by default.

A region mentioned also hints at its country (`Assam` → India at 0.4 of the weight), never the
other way round, so `West Java, Indonesia` ranks West Java first.

The summed evidence goes through a softmax over the candidates (uniform prior). `unknown` means no
signal reached `detect_unknown_evidence`; `ambiguous` means the top culture is below
`detect_ambiguous_top_p` or leads the second by less than `detect_ambiguous_margin`.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from manyshores.config import Settings, get_settings
from manyshores.content import content_text
from manyshores.cultures import CultureRegistry
from manyshores.detection.language import LanguageGuess, LanguageIdentifier
from manyshores.detection.mentions import Mention, MentionIndex
from manyshores.detection.task import detect_task
from manyshores.errors import InvalidInputError
from manyshores.paths import PACKAGE_CULTURES
from manyshores.state import CulturePosterior, CultureScore, Signal, TaskInfo, Turn


@dataclass(frozen=True)
class SignalWeights:
    """Log-odds each kind of evidence adds (tuned on the BLEnD dev set)."""

    name: float = 8.0
    """A country or region named in its own language or English."""
    foreign_name: float = 4.0
    """A country named in a language its people do not speak (more often a common word)."""
    demonym: float = 6.5
    """`Mexican`, `한국인`."""
    city: float = 5.5
    """A major city or well-known sub-region."""
    parent_from_child: float = 0.4
    """Share of a region's mention credited to its country (`Assam` also hints at India)."""
    language: float = 1.0
    """Multiplies log(population share / floor) of the message's language."""
    language_floor: float = 1e-3
    """Share assumed for cultures that do not speak the language at all."""
    lingua_franca_floor: float = 0.25
    """Share assumed for every culture when the language is a lingua franca (English, French):
    people everywhere write to a chatbot in English, so English says little."""
    explicit: float = 12.0
    """`culture=` given by the caller."""
    profile: float = 2.5
    """Times the profile weight of a culture."""
    history_turn: float = 4.0
    """Times p of a culture in an earlier turn's posterior (before decay)."""
    history_when_named: float = 0.4
    """Extra factor on earlier turns' mentions when the current message names a place itself
    (the conversation moved on: `I'm from Greece` ... `and in Iran?`)."""
    assistant: float = 0.3
    """Factor on cues found in assistant messages."""
    embedding: float = 1.5
    """Times the standardised similarity to a culture's description (when enabled)."""
    max_turns: int = 8
    """Turns further back than this are ignored (their weight has decayed anyway)."""


_SCAN_CHARS = 4000
"""Longer messages are scanned for mentions in their first 3000 and last 1000 characters."""


@dataclass(frozen=True)
class _Analysis:
    mentions: tuple[Mention, ...]
    language: LanguageGuess | None


@dataclass(frozen=True)
class _Message:
    role: str
    text: str


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
                self._index = _shared_index(self.registry)
            return self._index

    def load(self) -> CultureDetector:
        """Build the registry, the mention index and the language model now."""
        _ = self.index
        self._language.load()
        return self

    def clear_cache(self) -> None:
        """Forget the per-text analyses (mentions, language) kept for earlier turns."""
        with self._lock:
            self._cache.clear()

    def normalize(self, culture: str) -> str:
        """Canonical culture id for an id, code or name; a phrase that names exactly one culture
        (`Northern Nigeria`, `the US`) works too. Raises InvalidInputError otherwise."""
        try:
            return self.registry.normalize(culture)
        except InvalidInputError:
            found = {c for m in self.index.find(str(culture)) for c in m.cultures}
            if len(found) == 1:
                return found.pop()
            raise

    def detect_task(self, text: str) -> TaskInfo:
        """Task type and options of a user message (see `manyshores.detection.task`)."""
        return detect_task(text)

    def without_places(self, text: str) -> str:
        """The text with its place names and demonyms replaced by neutral words, so a model asked
        for a general answer is not invited to invent one culture's customs."""
        scanned = text if len(text) <= _SCAN_CHARS else text[:_SCAN_CHARS]
        out, last = [], 0
        for m in sorted(self.index.find(scanned), key=lambda m: m.start):
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
        settings = self.settings
        cands = self.candidate_ids(candidates)
        explicit_id = self.normalize(explicit) if explicit else None
        if explicit_id and explicit_id not in cands:
            cands.append(explicit_id)
        allowed = set(cands)
        evidence: dict[str, float] = {}
        signals: list[Signal] = []

        def add(kind: str, culture: str, weight: float, seen: str) -> None:
            if culture not in allowed or abs(weight) < 1e-6:
                return
            evidence[culture] = evidence.get(culture, 0.0) + weight
            signals.append(
                {"kind": kind, "culture": culture, "weight": round(weight, 3), "evidence": seen}
            )

        if explicit_id:
            add("explicit", explicit_id, w.explicit, f"culture={explicit_id}")
        for cid, share in (profile or {}).items():
            if self.registry.is_known(cid):
                nid = self.normalize(cid)
                add("profile", nid, w.profile * float(share), f"profile {nid} ({share:.2f})")

        turns = _by_distance(_messages(messages), w.max_turns)
        decay = settings.detect_history_decay
        # Language evidence is not summed over turns (five English turns would outweigh a named
        # place); each culture keeps the strongest (decayed) credit any user turn gives it, so an
        # earlier message in Assamese still counts after the user switches to English.
        language: dict[str, tuple[float, str, str]] = {}
        current_named = False
        for distance, msg in turns:
            factor = decay**distance * (w.assistant if msg.role == "assistant" else 1.0)
            kind_prefix = "" if distance == 0 and msg.role == "user" else "history:"
            analysis = self._analyse(msg.text)
            if distance == 0 and msg.role == "user":
                current_named = any(allowed.intersection(m.cultures) for m in analysis.mentions)
            elif current_named:
                factor *= w.history_when_named
            self._mention_signals(analysis.mentions, factor, kind_prefix, add, analysis.language)
            if analysis.language is not None and msg.role == "user":
                for cid, (weight, seen) in self._language_credit(
                    analysis.language, factor, allowed
                ).items():
                    if weight > language.get(cid, (0.0, "", ""))[0]:
                        language[cid] = (weight, seen, f"{kind_prefix}language")
        for cid, (weight, seen, kind) in language.items():
            add(kind, cid, weight, seen)
        for back, turn in enumerate(reversed(list(history or [])[-w.max_turns :]), start=1):
            for score in turn.get("cultures", [])[:3]:
                add(
                    "history",
                    score["id"],
                    w.history_turn * score["p"] * decay**back,
                    f"turn -{back}: {score['id']} p={score['p']:.2f}",
                )
        if settings.detect_embeddings and turns and turns[0][0] == 0:
            self._embedding_signals(turns[0][1].text, cands, add)

        return self._posterior(cands, evidence, signals)

    def _mention_signals(
        self,
        mentions: Sequence[Mention],
        factor: float,
        prefix: str,
        add: Any,
        language: LanguageGuess | None = None,
    ) -> None:
        w = self.weights
        per_culture: dict[str, tuple[float, str]] = {}
        # A place named in the language the message is written in (Spanish `Kenia` in a Spanish
        # question) is that language's own word for it: a full name, not a weak foreign one.
        # The guess's confidence is low for any short message, so any guess counts; a name that
        # is also a city or demonym elsewhere (`Granada`) keeps its stronger reading's kind.
        own_language = language.lang if language is not None else None
        for m in mentions:
            kind = "name" if m.kind == "foreign" and own_language in m.languages else m.kind
            base = {"name": w.name, "foreign": w.foreign_name, "demonym": w.demonym,
                    "city": w.city}[kind]  # fmt: skip
            for cid in m.cultures:
                old = per_culture.get(cid)
                if old is None or base > old[0]:
                    per_culture[cid] = (base, m.surface)
        mentioned = set(per_culture)
        for cid, (base, surface) in per_culture.items():
            add(f"{prefix}mention", cid, base * factor, f"mention {surface!r}")
            parent = self.registry.get(cid).parent
            if parent and parent not in mentioned:
                add(f"{prefix}mention", parent, base * w.parent_from_child * factor,
                    f"mention {surface!r} (inside {parent})")  # fmt: skip

    def _language_credit(
        self, guess: LanguageGuess, factor: float, allowed: set[str]
    ) -> dict[str, tuple[float, str]]:
        """Culture -> (log-odds, evidence) from the language of one message."""
        w = self.weights
        registry = self.registry
        speakers = registry.language_index.get(guess.lang, {})
        shares = {cid: s for cid, s in speakers.items() if cid in allowed}
        strength = w.language * guess.confidence * factor
        floor = w.language_floor
        if guess.lang in registry.lingua_francas:
            # CLDR counts second-language speakers (half of Greece speaks English): for a
            # lingua franca only the cultures whose main language it is get credit.
            floor = w.lingua_franca_floor
            first = registry.first_languages
            shares = {cid: s for cid, s in shares.items() if first.get(cid) == guess.lang}
        seen = f"language {guess.lang} ({guess.confidence:.2f}, {guess.method})"
        return {
            cid: (strength * math.log(max(share, floor) / floor), f"{seen}; {share:.0%} of {cid}")
            for cid, share in shares.items()
        }

    def _embedding_signals(self, text: str, cands: list[str], add: Any) -> None:
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
                add("embedding", cid, self.weights.embedding * (z - 2.0),
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
        cities = ", ".join(c.cities[:6])
        return f"{c.name} ({demonyms}), {c.region}. Cities and places: {cities}."

    def _posterior(
        self, cands: list[str], evidence: dict[str, float], signals: list[Signal]
    ) -> CulturePosterior:
        settings = self.settings
        signals.sort(key=lambda s: -abs(s["weight"]))
        signals = signals[:24]
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
        ambiguous = p1 < settings.detect_ambiguous_top_p or p1 - p2 < (
            settings.detect_ambiguous_margin
        )
        return {"cultures": cultures, "ambiguous": ambiguous, "unknown": False, "signals": signals}


_index_lock = threading.Lock()
_indexes: weakref.WeakKeyDictionary[CultureRegistry, MentionIndex] = weakref.WeakKeyDictionary()


def _shared_index(registry: CultureRegistry) -> MentionIndex:
    """One mention index per registry and process (building one takes ~0.4 s)."""
    with _index_lock:
        index = _indexes.get(registry)
        if index is None:
            index = _indexes[registry] = MentionIndex(registry)
        return index


_prebuilt_lock = threading.Lock()


def shared_registry() -> CultureRegistry:
    """The process-wide culture registry; when nothing built it yet, read back with its mention
    index from the home directory's cache (`startup_cache.py`): 2.9 s and 1.6 s to build at load
    ~8 on the shared 2-core machine, 0.1 s and 0.6 s to read (`docs/speed.md`)."""
    from manyshores.cultures import install_registry, registry_if_built

    with _prebuilt_lock:
        existing = registry_if_built()
        if existing is not None:
            return existing
        registry, index = _load_prebuilt()
        installed = install_registry(registry)
        if installed is registry:
            with _index_lock:
                _indexes.setdefault(registry, index)
        return installed


def _load_prebuilt() -> tuple[CultureRegistry, MentionIndex]:
    """The default registry and its mention index, from the cache when none of their inputs
    changed (the building modules' source, the shipped culture data, pycountry and babel)."""
    from importlib.metadata import version
    from pathlib import Path

    import manyshores.detection.mentions as mentions
    import manyshores.detection.scripts as scripts
    from manyshores import cultures
    from manyshores.startup_cache import cached_pickle, files_key

    def build() -> tuple[CultureRegistry, MentionIndex]:
        registry = CultureRegistry()
        return registry, MentionIndex(registry)

    data = sorted(PACKAGE_CULTURES.glob("*.json"))
    sources = [Path(m.__file__ or "") for m in (cultures, mentions, scripts)] + data
    try:
        key = files_key(sources, [f"pycountry {version('pycountry')}", f"babel {version('babel')}"])
    except Exception:  # an unreadable source or metadata: build, do not cache
        return build()
    return cached_pickle("cultures", key, build)


_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}


def _messages(messages: Sequence[Any] | str) -> list[_Message]:
    """langchain messages or role/content dicts -> user/assistant texts (others dropped)."""
    if isinstance(messages, str):
        return [_Message("user", messages)]
    out = []
    for m in messages:
        if isinstance(m, dict):
            role, content = m.get("role", "user"), m.get("content", "")
        else:
            role, content = getattr(m, "type", "user"), getattr(m, "content", "")
        role = _ROLES.get(str(role))
        if role is not None:
            out.append(_Message(role, content_text(content)))
    return out


def _by_distance(messages: list[_Message], max_turns: int) -> list[tuple[int, _Message]]:
    """(turns back from the last user message, message), newest first."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    if last_user < 0:
        return []
    out: list[tuple[int, _Message]] = []
    distance = 0
    for m in reversed(messages[: last_user + 1]):
        if m.role == "user" and out:
            distance += 1
        if distance > max_turns:
            break
        # An assistant reply belongs to the exchange of the user turn before it.
        out.append((distance + (1 if m.role == "assistant" else 0), m))
    return out
