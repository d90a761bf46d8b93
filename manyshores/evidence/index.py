"""`EvidenceIndex`: neighbour questions of a culture, their human answers, ranked.

    index = EvidenceIndex.from_package()
    ev = index.rank("What do people in Nigeria eat for breakfast?", "NGA", k=3)
    ev.usable, ev.candidates[0].text, ev.candidates[0].refs, ev.sources

Everything expensive is done once per process and per culture: the question vectors ship in the
package (`data/evidence/questions.npz`; questions not in it are embedded when the culture is
first used), the character n-gram indexes are built from the bank in a few ms per culture.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from manyshores.errors import InvalidInputError
from manyshores.evidence.bank import AnswerBank, BankQuestion
from manyshores.evidence.candidates import (
    KeyCounts,
    candidate_features,
    gather,
)
from manyshores.evidence.culture_questions import CultureEvidence, bank_maps, embed_missing
from manyshores.evidence.lead import candidate, decide
from manyshores.evidence.match import MATCH_FEATURES, QuestionMatcher, group_of
from manyshores.evidence.metric import (
    project,
)
from manyshores.evidence.multilingual import MultilingualVectors, TranslationMap, available
from manyshores.evidence.names import culture_names, looks_local
from manyshores.evidence.ranker import RankerModel, RankerParams
from manyshores.evidence.similarity import (
    PACKAGE_ANSWERS,
    PACKAGE_VECTORS,
    CharTfidf,
    embed_texts,
    load_vectors,
    strip_local_names,
    strip_names,
)
from manyshores.evidence.sources import source
from manyshores.evidence.types import Evidence
from manyshores.evidence.wording import WordingModel
from manyshores.paths import PACKAGE_BLEND

if TYPE_CHECKING:
    from manyshores.config import Settings
    from manyshores.evidence.options import OptionEvidence

KEPT_OPTION_SCORES = 8
"""Option questions whose scores `EvidenceIndex.score_options` keeps (the latest)."""
PSEUDO_TOP = 3
"""Best character matches whose English vectors stand in for a local-language question."""
PSEUDO_TEMPERATURE = 0.05
"""Softmax temperature over those matches' character similarities."""


class EvidenceIndex:
    """Human answers to a culture's questions, searchable by question and ranked by a learnt
    model. Thread-safe: per-culture structures are built once under a lock."""

    def __init__(
        self,
        bank: AnswerBank,
        model: RankerModel,
        vectors: dict[str, np.ndarray] | None = None,
        answers: dict[str, np.ndarray] | None = None,
        metric: np.ndarray | None = None,
        answer_map: np.ndarray | None = None,
        wording: WordingModel | None = None,
    ) -> None:
        self.bank = bank
        """The questions and answers searched."""
        self.model = model
        """Weights and settings of the ranker."""
        self._vectors = vectors if vectors is not None else {}
        self._answers = answers if answers is not None else {}
        self.metric = metric
        """The learnt question metric (`manyshores.evidence.metric`); None: MiniLM's cosine."""
        self.answer_map = answer_map
        """The learnt map from a question to the kind of answer it takes; None: MiniLM's."""
        self.wording = wording if wording is not None else WordingModel.load()
        """How replies are worded and how sure their lead is (`wording`); None: every reply
        `related`, with the ranker's own chance as its confidence."""
        self._matcher = QuestionMatcher(answer_map)
        self._cultures: dict[str, CultureEvidence] = {}
        self._counts = KeyCounts.build(bank.questions)
        self._counts_without: dict[frozenset[str], KeyCounts] = {}
        self._maps: dict[tuple[str, frozenset[str]], tuple[np.ndarray, np.ndarray]] = {}
        self._grams: dict[str, np.ndarray] = {}
        self._translation: tuple[TranslationMap, MultilingualVectors] | None = None
        self._option_scores: dict[tuple[Any, ...], OptionEvidence] = {}
        self._lock = threading.Lock()
        self._translation_lock = threading.Lock()

    # ------------------------------------------------------------------ building
    @classmethod
    def from_package(
        cls, model: RankerModel | None = None, *, exclude_ids: Collection[str] = ()
    ) -> EvidenceIndex:
        """The BLEnD rows, question vectors, learnt maps and ranker weights shipped in the
        package. `exclude_ids`: question ids left out of the bank in every culture (an
        evaluation); the learnt maps are then fitted on the rest (seconds)."""
        return cls.for_bank(AnswerBank.from_dir(PACKAGE_BLEND), model, exclude_ids=exclude_ids)

    @classmethod
    def for_bank(
        cls,
        bank: AnswerBank,
        model: RankerModel | None = None,
        *,
        exclude_ids: Collection[str] = (),
    ) -> EvidenceIndex:
        """`bank` (without `exclude_ids`) with the shipped vectors and ranker, and a question
        metric and answer-type map fitted on exactly its questions (`bank_maps`)."""
        if exclude_ids:
            left_out = set(exclude_ids)
            bank = bank.restricted({q.id for qs in bank.questions.values() for q in qs} - left_out)
        vectors = load_vectors(PACKAGE_VECTORS)
        answers = load_vectors(PACKAGE_ANSWERS)
        metric, answer_map = bank_maps(bank, vectors, answers)
        return cls(bank, model or RankerModel.load(), vectors, answers, metric, answer_map)

    @classmethod
    def load(
        cls, settings: Settings | None = None, *, data_dir: Path | None = None
    ) -> EvidenceIndex:
        """`from_package()`, or the BLEnD files of `data_dir` (same format) with the shipped
        weights. `settings` is accepted so callers can pass their runtime settings; nothing in
        them changes the shipped index today."""
        if data_dir is None:
            return cls.from_package()
        return cls.for_bank(AnswerBank.from_dir(data_dir))

    def cultures(self) -> list[str]:
        return self.bank.cultures()

    def _culture(self, culture: str) -> CultureEvidence | None:
        with self._lock:
            found = self._cultures.get(culture)
        if found is not None:
            return found
        qs = self.bank.questions.get(culture)
        if not qs:
            return None
        names = culture_names(culture, qs[0].name)
        texts = [strip_names(q.en_question, names) for q in qs]
        embed_missing(self._vectors, texts)
        vectors = np.stack([self._vectors[t] for t in texts]).astype(np.float32)
        built = CultureEvidence(
            questions=qs,
            vectors=vectors,
            mapped=project(vectors, self.metric),
            local=CharTfidf.fit([strip_local_names(q.question, names) for q in qs]),
            english=CharTfidf.fit(texts),
            names=names,
            language=qs[0].language,
        )
        with self._lock:
            self._cultures[culture] = built
        return built

    # ------------------------------------------------------------------ searching
    def _query_vector(self, text: str) -> np.ndarray:
        vec = self._vectors.get(text)
        if vec is None:
            vec = embed_texts([text])[0]
        return np.asarray(vec, dtype=np.float32)

    def similarities(
        self,
        question: str,
        culture: str,
        language: str | None = None,
        exclude_ids: Collection[str] = (),
    ) -> tuple[np.ndarray, str]:
        """Similarity of `question` to each of the culture's questions, and the language it
        was matched in (`en` or the local language)."""
        sims, lang, _ = self.match(question, culture, language, exclude_ids)
        return sims, lang

    def match(
        self,
        question: str,
        culture: str,
        language: str | None = None,
        exclude_ids: Collection[str] = (),
    ) -> tuple[np.ndarray, str, np.ndarray]:
        """(similarities, language matched in, English query vector).

        A local-language question has no English vector of its own: a map learnt from the
        culture's question pairs (`_local_map`), or with `local_ridge` 0 its best character
        matches' vectors weighted by how well they match, stand in for it. Questions of
        `exclude_ids` never stand in (a held-out question would be its own perfect
        translation)."""
        ce = self._culture(culture)
        if ce is None:
            return np.zeros(0, dtype=np.float32), language or "en", np.zeros(0, np.float32)
        lang = self._language(question, ce, language)
        p = self.model.params
        if lang == "en" or ce.language == "en":
            vec = self._query_vector(strip_names(question, ce.names))
            return ce.mapped @ project(vec, self.metric), "en", vec
        stripped = strip_local_names(question, ce.names)
        chars = ce.local.query(stripped)
        if p.local_translation_ridge > 0 and available():
            tm, e5 = self._translation_map()
            pseudo = tm.translate(e5.get([stripped])[stripped], exclude_ids)
            sims = p.local_mix * chars + (1 - p.local_mix) * (
                ce.mapped @ project(pseudo, self.metric)
            )
            return sims.astype(np.float32), lang, pseudo
        if p.local_ridge > 0:
            rows, weights = self._local_map(culture, ce, exclude_ids)
            pseudo = chars[rows].astype(np.float64) @ weights
            norm = float(np.linalg.norm(pseudo))
            if norm < 1e-9:  # no character n-gram in common with any question
                return (p.local_mix * chars).astype(np.float32), lang, np.zeros(0, np.float32)
            pseudo /= norm
            sims = p.local_mix * chars + (1 - p.local_mix) * (
                ce.mapped @ project(pseudo, self.metric)
            )
            return sims.astype(np.float32), lang, pseudo.astype(np.float32)
        ids = set(exclude_ids)
        order = np.argsort(-chars, kind="stable").tolist()
        top = [i for i in order if ce.questions[i].id not in ids][:PSEUDO_TOP]
        if not top:
            return (p.local_mix * chars).astype(np.float32), lang, np.zeros(0, np.float32)
        w = np.exp((chars[top] - chars[top].max()) / PSEUDO_TEMPERATURE)
        pseudo = (w[:, None] * ce.vectors[top]).sum(axis=0)
        pseudo /= max(float(np.linalg.norm(pseudo)), 1e-9)
        # The pseudo-translation is only as good as the best character match: scale it down.
        english = ce.mapped @ project(pseudo, self.metric)
        sims = p.local_mix * chars + (1 - p.local_mix) * english * chars[top].max()
        return sims.astype(np.float32), lang, pseudo.astype(np.float32)

    def _translation_map(self) -> tuple[TranslationMap, MultilingualVectors]:
        """The e5 → MiniLM map of this bank (`multilingual`), fitted on first use over every
        culture's question pairs: a local question's and its English question's e5 vectors,
        each to the English question's MiniLM vector."""
        with self._translation_lock:
            if self._translation is not None:
                return self._translation
            e5 = MultilingualVectors()
            rows: list[tuple[str, str, str]] = []  # (id, e5 text, English text)
            for culture, qs in self.bank.questions.items():
                names = culture_names(culture, qs[0].name)
                for q in qs:
                    english = strip_names(q.en_question, names)
                    rows.append((q.id, english, english))
                    if q.language != "en":
                        rows.append((q.id, strip_local_names(q.question, names), english))
            found = e5.get({r[1] for r in rows})
            minilm = embed_missing(self._vectors, {r[2] for r in rows})
            tm = TranslationMap(
                np.stack([found[r[1]] for r in rows]),
                np.stack([minilm[r[2]] for r in rows]),
                [r[0] for r in rows],
                self.model.params.local_translation_ridge,
            )
            self._translation = (tm, e5)
            return self._translation

    def _local_map(
        self, culture: str, ce: CultureEvidence, exclude_ids: Collection[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weights): a local-language question's character similarities to those rows,
        times `weights`, estimate its English question vector.

        Kernel ridge regression over the culture's question pairs (local text → English
        vector), with the character TF-IDF cosine as the kernel: unlike the vectors of the few
        best character matches, it combines many partial matches (a question about breakfast
        on a holiday borrows from both). Excluded ids are left out of the fit (a held-out
        question would map to its own English vector). Kept per set of excluded ids."""
        excluded = {q.id for q in ce.questions} & set(exclude_ids)
        key = (culture, frozenset(excluded))
        with self._lock:
            found = self._maps.get(key)
        if found is not None:
            return found
        with self._lock:
            gram = self._grams.get(culture)
        if gram is None:
            gram = ce.local.gram()
            with self._lock:
                self._grams[culture] = gram
        rows = np.asarray(
            [i for i, q in enumerate(ce.questions) if q.id not in excluded], dtype=np.int64
        )
        kernel = gram[np.ix_(rows, rows)] + self.model.params.local_ridge * np.eye(len(rows))
        weights = np.linalg.solve(kernel, ce.vectors[rows].astype(np.float64))
        found = (rows, weights)
        with self._lock:
            kept = [old for old in self._maps if old[0] == culture and old[1]]
            if excluded and len(kept) >= 4:
                # Fitting asks with a new id left out each time: keep only the latest few of a
                # culture (an evaluation passes one set of ids for all of them).
                self._maps.pop(kept[0])
            self._maps[key] = found
        return found

    def answer_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit MiniLM vectors of English answers (shipped; others embedded once and kept)."""
        embed_missing(self._answers, texts)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([np.asarray(self._answers[t], dtype=np.float32) for t in texts])

    def _language(self, question: str, ce: CultureEvidence, language: str | None) -> str:
        if language:
            lang = language.lower().split("-")[0].split("_")[0]
            return "en" if lang != ce.language else lang
        if ce.language == "en":
            return "en"
        by_script = looks_local(question, ce.language)
        if by_script is not None:
            return ce.language if by_script else "en"
        local = float(ce.local.query(strip_local_names(question, ce.names)).max(initial=0.0))
        english = float(ce.english.query(question).max(initial=0.0))
        return ce.language if local > english else "en"

    def neighbours(
        self,
        question: str,
        culture: str,
        *,
        language: str | None = None,
        exclude_ids: Collection[str] = (),
        n: int | None = None,
    ) -> list[tuple[BankQuestion, float]]:
        """The culture's most similar questions, most similar first."""
        sims, _ = self.similarities(question, culture, language)
        return self._top(culture, sims, exclude_ids, n or self.model.params.neighbours)

    def _top(
        self, culture: str, sims: np.ndarray, exclude_ids: Collection[str], n: int
    ) -> list[tuple[BankQuestion, float]]:
        ce = self._culture(culture)
        if ce is None:
            return []
        excluded = set(exclude_ids)
        out = []
        for i in np.argsort(-sims, kind="stable").tolist():
            q = ce.questions[i]
            if q.id in excluded:
                continue
            out.append((q, float(sims[i])))
            if len(out) >= n:
                break
        return out

    def _counts_excluding(self, exclude_ids: Collection[str]) -> KeyCounts:
        """The culture-habit counts (`prior`, `specificity`) without the excluded ids' answers
        in any culture: an id held out of the neighbours must not count through them either.
        Kept per set of ids (an evaluation passes the same set with every question)."""
        ids = frozenset(exclude_ids)
        if not ids:
            return self._counts
        with self._lock:
            found = self._counts_without.get(ids)
        if found is None:
            kept = {c: [q for q in qs if q.id not in ids] for c, qs in self.bank.questions.items()}
            found = KeyCounts.build(kept)
            with self._lock:
                if len(self._counts_without) >= 4:
                    self._counts_without.pop(next(iter(self._counts_without)))
                self._counts_without[ids] = found
        return found

    # ------------------------------------------------------------------ ranking
    def rank(
        self,
        question: str,
        culture: str,
        *,
        language: str | None = None,
        exclude_ids: Collection[str] = (),
        k: int = 3,
    ) -> Evidence:
        """The `k` best-ranked answers people of `culture` gave to the questions most like
        `question`, with one source per cited row.

        `language`: the question's language (ISO 639-1) when known, else guessed from its
        script and wording; answers come in the culture's local language when the question is
        in it. `exclude_ids`: question ids whose answers must not be used (evaluation)."""
        if not isinstance(question, str) or not question.strip():
            raise InvalidInputError("the question is empty")
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        if self._culture(culture) is None:
            return Evidence([], [], False, 0.0, language or "en", [f"no answers for {culture}"])
        sims, lang, vec = self.match(question, culture, language, exclude_ids)
        return self.rank_similar(
            culture, sims, lang, vec, exclude_ids=exclude_ids, k=k, question=question
        )

    def rank_similar(
        self,
        culture: str,
        sims: np.ndarray,
        language: str,
        vector: np.ndarray,
        *,
        exclude_ids: Collection[str] = (),
        k: int = 3,
        excluded_rows: Sequence[BankQuestion] = (),
        with_sources: bool = True,
        question: str | None = None,
    ) -> Evidence:
        """`rank` from precomputed similarities (fitting and evaluation reuse them). With the
        asked `question`, the reply's wording and confidence are decided too (`lead`)."""
        p: RankerParams = self.model.params
        found = self._top(culture, sims, exclude_ids, p.neighbours)
        if not found:
            return Evidence([], [], False, 0.0, language, [f"no answers for {culture}"])
        qs = [q for q, _ in found]
        ss = [s for _, s in found]
        cands = gather(qs)
        kind = project(vector, self.answer_map)  # the kind of answer the question takes
        fit = self.answer_vectors([c.english for c in cands]) @ kind if len(vector) else None
        x = candidate_features(
            cands,
            qs,
            ss,
            culture,
            self._counts_excluding(exclude_ids) if not excluded_rows else self._counts,
            temperature=p.temperature,
            answer_fit=fit,
            excluded=excluded_rows,
        )
        probs = self.model.score(x)
        chances = self.model.chances(x)
        group = group_of(language)
        match, row = 0.0, None
        if question is not None:
            e5 = self._translation[1] if self._translation is not None else None
            ce = self._cultures[culture]  # built by `_top` above
            row = self._matcher.row(ce, culture, question, language, sims, exclude_ids, vector, e5)
            match = self.wording.match_probability(row, group) if self.wording else 0.0
        decided = decide(cands, probs, chances, self.wording, group, match)
        order, matched = decided.order[:k], decided.wording == "answer"
        local = language != "en"
        features = (self.model.features, x)
        candidates = [
            candidate(cands[i], i, qs, ss, probs, features, local, matched) for i in order
        ]
        used = sorted({j for i in order for j in cands[i].hits})
        sources = [source(qs[j], ss[j], local) for j in used] if with_sources else []
        sources.sort(key=lambda s: -s["score"])
        threshold = p.min_similarity_local if local else p.min_similarity
        usable = ss[0] >= threshold
        notes = [
            f"closest question {qs[0].ref} similarity {ss[0]:.3f} "
            f"{'>=' if usable else '<'} {threshold:.3f} ({language})"
        ]
        if row is not None:
            notes.append(f"closest question is the asked one: {match:.3f} ({decided.wording})")
        if p.min_lead_chance and chances is not None and order and not decided.matched:
            # A question people answered is evidence for itself whatever the trees think.
            lead = float(chances[order[0]])
            confident = lead >= p.min_lead_chance
            usable = usable and confident
            notes.append(
                f"lead answer's chance {lead:.3f} "
                f"{'>=' if confident else '<'} {p.min_lead_chance:.3f}"
            )
        return Evidence(
            candidates,
            sources,
            usable,
            round(ss[0], 4),
            language,
            notes,
            wording=decided.wording if usable else "none",
            confidence=decided.confidence if usable else None,
            match=match,
            matched=qs[0].ref,
            match_features=dict(zip(MATCH_FEATURES, [] if row is None else row.round(4).tolist())),
        )

    def score_options(
        self,
        question: str,
        culture: str,
        options: Sequence[str],
        *,
        language: str | None = None,
        exclude_ids: Collection[str] = (),
    ) -> OptionEvidence:
        """Each option of an everyday question weighed against what `culture`'s people answered
        to similar questions (`manyshores.evidence.options`). The latest few are kept: a turn
        asks twice (the expert step, whether the experts need to run; aggregate, the reply), and
        the caller reads the result without changing it."""
        from manyshores.evidence.options import score_options

        key = (question, culture, tuple(options), language, frozenset(exclude_ids))
        with self._lock:
            found = self._option_scores.get(key)
        if found is None:
            found = score_options(
                self, question, culture, options, language=language, exclude_ids=exclude_ids
            )
            with self._lock:
                self._option_scores[key] = found
                while len(self._option_scores) > KEPT_OPTION_SCORES:
                    self._option_scores.pop(next(iter(self._option_scores)))
        return found
