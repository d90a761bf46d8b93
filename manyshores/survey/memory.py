"""Survey memory: a culture's known answers to the most similar questions (the `memory` system).

No LLM: the question (with its options) is embedded, the culture's answered questions are ranked
by cosine similarity, and the answer shares of the top `k` are averaged with weights
`exp(similarity / temperature)`. Neighbours with another number of options are mapped onto the
target scale by their relative position (0 = first option, 1 = last), so a 4-point answer can
inform a 10-point one; neighbours on the same scale are preferred by `same_scale_bonus`.

API: `SurveyMemory.from_package()` (the shipped WVS train split) or `SurveyMemory(questions,
answers)`; `memory.predict(culture, question, options) -> MemoryAnswer | None` (None when the
culture has no answers at all; callers then use the nearest cultures' memories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MemoryAnswer:
    """A distribution predicted from a culture's answers to similar questions."""

    probs: list[float]
    """One share per option of the asked question (sums to 1)."""
    neighbours: list[tuple[str, float]]
    """(question id, similarity) of the answers used, most similar first."""


@dataclass
class MemoryParams:
    """Retrieval hyperparameters, chosen by leave-one-question-out cross-validation over the
    train split (16 cultures): k=16, temperature 0.1, bonus 0.2 gave spa 0.639 and jsd_align
    0.933; k in {8, 32} and temperature 0.03 were within 0.005 spa, temperature 1 clearly worse."""

    k: int = 16
    """Neighbour questions used."""
    temperature: float = 0.1
    """Softmax temperature over cosine similarities."""
    same_scale_bonus: float = 0.2
    """Added to the similarity of neighbours with the same number of options."""


def rescale(dist: list[float], n: int) -> list[float]:
    """Map a distribution over m ordinal options onto n options by relative position."""
    m = len(dist)
    if m == n:
        return list(dist)
    out = [0.0] * n
    for j, p in enumerate(dist):
        x = (j / (m - 1) if m > 1 else 0.5) * (n - 1)
        lo = int(math.floor(x))
        hi = min(lo + 1, n - 1)
        frac = x - lo
        out[lo] += p * (1 - frac)
        out[hi] += p * frac
    return out


def question_text(question: str, options: list[str] | tuple[str, ...]) -> str:
    return f"{question} Options: {'; '.join(options)}"


def vector_file_name(texts: list[str]) -> str:
    """The file name of the vectors of `texts`: the texts and the model name are the key, so any
    change to either is a new file, never a stale one."""
    import hashlib

    from manyshores.memory.embeddings import EMBEDDING_MODEL_NAME

    digest = hashlib.sha256("\n".join([EMBEDDING_MODEL_NAME, *texts]).encode()).hexdigest()
    return f"survey-vectors-{digest[:20]}.npy"


@dataclass
class SurveyMemory:
    """Known answer shares per culture, searchable by question similarity."""

    questions: dict[str, tuple[str, tuple[str, ...]]]
    """Question id to (text, options) for every answered question."""
    answers: dict[str, dict[str, list[float]]]
    """`{culture: {question_id: shares}}`."""
    params: MemoryParams = field(default_factory=MemoryParams)
    """Retrieval hyperparameters."""
    vector_cache: Path | None = None
    """Directory where question embeddings are kept between processes (None: recompute)."""
    _vectors: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_package(
        cls, params: MemoryParams | None = None, user_store: Path | None | bool = True
    ) -> SurveyMemory:
        """The WVS train split shipped in `manyshores/data/wvs`, plus the surveys that experts
        in the user's store were trained on (`user_store`: that store's directory; True for the
        configured one, False for none)."""
        from manyshores.config import get_settings
        from manyshores.paths import PACKAGE_WVS

        memory = cls.from_files(PACKAGE_WVS / "questions.json", PACKAGE_WVS / "train.json", params)
        # Embedding every known question took ~19 s on a loaded 2-core machine: once per machine.
        memory.vector_cache = get_settings().home_dir / "cache"
        if user_store is True:
            user_store = get_settings().user_experts_dir
        if isinstance(user_store, Path):
            memory.add_store_surveys(user_store)
        return memory

    def add_store_surveys(self, root: Path) -> int:
        """Add the survey beside each expert of a store (written by `manyshores experts train`).

        Question ids are namespaced by the expert id (`<id>:<question id>`), so a user's `Q1`
        never overwrites the WVS `Q1`. Returns the number of answers added."""
        import json

        from manyshores.paths import SURVEY_FILE

        added = 0
        if not root.is_dir():
            return 0
        for path in sorted(root.glob(f"*/{SURVEY_FILE}")):
            try:
                raw = json.loads(path.read_text())
                qs = {q["id"]: (str(q["question"]), tuple(q["options"])) for q in raw["questions"]}
                answers = raw["answers"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged file must not break memory for everyone
            ns = path.parent.name
            for qid, q in qs.items():
                self.questions[f"{ns}:{qid}"] = q
            for culture, shares in answers.items():
                known = self.answers.setdefault(culture, {})
                for qid, dist in shares.items():
                    if qid in qs and len(dist) == len(qs[qid][1]):
                        known[f"{ns}:{qid}"] = [float(x) for x in dist]
                        added += 1
        if self._vectors:  # already embedded: embed the new questions too
            self._embed_all()
        return added

    @classmethod
    def from_files(
        cls, questions: Path, answers: Path, params: MemoryParams | None = None
    ) -> SurveyMemory:
        from manyshores.survey.data import load_questions, load_split

        qs = load_questions(questions)
        return cls(
            {q.id: (q.question, q.options) for q in qs.values()},
            load_split(answers),
            params or MemoryParams(),
        )

    def cultures(self) -> list[str]:
        return sorted(c for c, a in self.answers.items() if a)

    def without(self, culture: str) -> SurveyMemory:
        """This memory as if `culture` had no answers (sharing the embedded questions): how a
        culture without a survey of its own is served, measured on one that has one."""
        answers = {c: a for c, a in self.answers.items() if c != culture}
        return SurveyMemory(
            self.questions, answers, self.params, self.vector_cache, _vectors=self._vectors
        )

    def _vector(self, key: str, text: str) -> Any:
        if not self._vectors:
            self._embed_all()
        if key not in self._vectors:
            import numpy as np

            from manyshores.memory.embeddings import embed

            self._vectors[key] = np.asarray(embed([text])[0], dtype=np.float32)
        return self._vectors[key]

    def _embed_all(self) -> None:
        import numpy as np

        from manyshores.memory.embeddings import embed

        ids = [q for q in self.questions if q not in self._vectors]
        if ids:
            texts = [question_text(*self.questions[q]) for q in ids]
            vecs = self._cached_vectors(texts)
            if vecs is None:
                vecs = np.asarray(embed(texts), dtype=np.float32)
                self._store_vectors(texts, vecs)
            self._vectors.update(zip(ids, vecs, strict=True))

    def _cache_file(self, texts: list[str], directory: Path | None = None) -> Path | None:
        """Where the vectors of `texts` are kept in `directory` (default: `vector_cache`)."""
        directory = directory or self.vector_cache
        if directory is None:
            return None
        return directory.expanduser() / vector_file_name(texts)

    def _cached_vectors(self, texts: list[str]) -> Any:
        import numpy as np

        from manyshores.paths import PACKAGE_WVS

        # The shipped questions' vectors come with the package (no embedding on a new machine);
        # any other set of questions is embedded once and kept in the cache.
        for path in (self._cache_file(texts, PACKAGE_WVS), self._cache_file(texts)):
            if path is None or not path.is_file():
                continue
            try:
                vecs = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                continue  # damaged: recomputed and rewritten
            if vecs.ndim == 2 and vecs.shape[0] == len(texts):
                return vecs
        return None

    def _store_vectors(self, texts: list[str], vecs: Any) -> None:
        import os

        import numpy as np

        path = self._cache_file(texts)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, vecs)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        except OSError:
            pass  # a read-only home only costs the next process the embedding time

    def predict(
        self,
        culture: str,
        question: str,
        options: list[str] | tuple[str, ...],
        exclude: set[str] | frozenset[str] = frozenset(),
        params: MemoryParams | None = None,
        qid: str | None = None,
    ) -> MemoryAnswer | None:
        """The culture's answers to the most similar questions, as a distribution over `options`.

        `exclude` leaves question ids out (cross-validation); `qid` names the asked question
        when it is a known one, which lets its stored embedding be reused.
        """
        p = params or self.params
        known = {
            q: d
            for q, d in self.answers.get(culture, {}).items()
            if q not in exclude and q in self.questions
        }
        if not known:
            return None
        text = question_text(question, options)
        target = self._vector(qid or f"text:{text}", text)
        n = len(options)
        import numpy as np

        ids = list(known)
        sims = np.stack([self._vector(q, "") for q in ids]) @ target
        scored = [
            (float(sim) + (p.same_scale_bonus if len(known[q]) == n else 0.0), q, known[q])
            for q, sim in zip(ids, sims, strict=True)
        ]
        scored.sort(key=lambda t: -t[0])
        top = scored[: p.k]
        weights = [math.exp((s - top[0][0]) / p.temperature) for s, _, _ in top]
        total = sum(weights)
        probs = [0.0] * n
        for w, (_, _, dist) in zip(weights, top, strict=True):
            for i, x in enumerate(rescale(dist, n)):
                probs[i] += w / total * x
        return MemoryAnswer(probs=probs, neighbours=[(q, round(s, 4)) for s, q, _ in top])


def write_survey_vectors() -> Path:
    """Write the shipped survey questions' vectors (float32, as `_embed_all` computes them) to
    the file `_cached_vectors` looks for beside the survey data; older ones are removed.
    Rebuild after changing the shipped questions: `python -m manyshores.survey.memory`."""
    import numpy as np

    from manyshores.memory.embeddings import embed
    from manyshores.paths import PACKAGE_WVS

    memory = SurveyMemory.from_package(user_store=False)
    texts = [question_text(*memory.questions[q]) for q in memory.questions]
    for old in PACKAGE_WVS.glob("survey-vectors-*.npy"):
        old.unlink()
    path = PACKAGE_WVS / vector_file_name(texts)
    np.save(path, np.asarray(embed(texts), dtype=np.float32))
    return path


if __name__ == "__main__":
    print(f"survey question vectors written to {write_survey_vectors()}")
