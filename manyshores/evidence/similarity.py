"""Question similarity: MiniLM embeddings for English, character n-gram TF-IDF for any script.

MiniLM is English-only, so a question in Korean, Persian or Amharic is matched by character
n-grams against the culture's local-language questions (same language, same script), then
carried over to the English embedding space through its best matches (`pseudo_vector`).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.paths import PACKAGE_EVIDENCE

PACKAGE_VECTORS = PACKAGE_EVIDENCE / "questions.npz"
"""MiniLM vectors of the shipped questions (place names stripped), keyed by their text."""

PACKAGE_ANSWERS = PACKAGE_VECTORS.with_name("answers.npz")
"""MiniLM vectors of the shipped answers (the first English variant of each annotation)."""

NGRAMS = (2, 3, 4)
"""Character n-gram lengths: short enough for agglutinative words and scripts without spaces."""

_SPACE = re.compile(r"[\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=128)
def _name_patterns(names: frozenset[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """`strip_names`' patterns for one culture's names, compiled once (a bank's cultures have
    more names than `re`'s own cache holds), longest name first, each after the lower-cased name
    it needs (a substring test skips the patterns that cannot match)."""
    out = []
    for name in sorted(names, key=lambda n: (-len(n), n)):
        n = re.escape(name)
        near = rf"\b(?:in|of|from|for|at|to|across) (?:the )?{n}(?:'s)?(?!\w)"
        out.append((name.lower(), re.compile(near, re.I)))
        out.append((name.lower(), re.compile(rf"(?<!\w)(?:the )?{n}(?:'s)?(?!\w)", re.I)))
    return tuple(out)


@functools.lru_cache(maxsize=128)
def _local_name_patterns(names: frozenset[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    ordered = sorted(names, key=lambda n: (-len(n), n))
    return tuple((name.lower(), re.compile(re.escape(name), re.I)) for name in ordered)


def _strip(text: str, patterns: tuple[tuple[str, re.Pattern[str]], ...], by: str) -> str:
    low = text.lower()
    for needle, pattern in patterns:
        if needle in low:
            text = pattern.sub(by, text)
            low = text.lower()
    return text


def strip_names(text: str, names: Iterable[str]) -> str:
    """`text` without the culture's names ("... in Algeria?" → "... ?"): the culture is already
    given, and its name would only pull all of its questions together."""
    text = _strip(text, _name_patterns(frozenset(n for n in names if n)), "")
    return " ".join(text.split()).replace(" ?", "?").replace(" .", ".")


def strip_local_names(text: str, names: Iterable[str]) -> str:
    """`text` without the culture's names wherever they occur, also inside a word: scripts
    without spaces (`在中国`) and agglutinative languages (`Azərbaycanda`, `대한민국의`) attach
    them to other letters, so `strip_names`' word boundaries miss them. Before character
    n-grams, the name is the largest shared part of many questions ("Τι τρώνε οι Έλληνες …")
    and would outweigh the words that tell them apart."""
    text = _strip(text, _local_name_patterns(frozenset(n for n in names if len(n) > 1)), " ")
    return " ".join(text.split())


def char_ngrams(text: str) -> Counter[str]:
    """Counts of the character n-grams of each word, with the word's boundaries marked."""
    norm = unicodedata.normalize("NFKC", text).lower()
    grams: Counter[str] = Counter()
    for word in _SPACE.sub(" ", norm).split():
        w = f" {word} "
        for n in NGRAMS:
            grams.update(w[i : i + n] for i in range(max(len(w) - n + 1, 1)))
    return grams


@dataclass
class CharTfidf:
    """Cosine similarity of sublinear TF-IDF vectors over character n-grams.

    Stored column-wise (one slice of `rows`/`values` per n-gram), so a query touches only its
    own n-grams' entries and sums them with one `bincount`."""

    size: int
    """Number of indexed texts."""
    columns: dict[str, tuple[int, int, float]] = field(repr=False)
    """n-gram → (start, end) of its entries in `rows`/`values`, and its idf."""
    rows: np.ndarray = field(repr=False)
    """Text index of each entry."""
    values: np.ndarray = field(repr=False)
    """Normalised weight of each entry."""

    @classmethod
    def fit(cls, texts: Sequence[str]) -> CharTfidf:
        grams = [char_ngrams(t) for t in texts]
        df: Counter[str] = Counter()
        for g in grams:
            df.update(g.keys())
        n = len(texts)
        idf = {k: math.log((n + 1) / (d + 1)) + 1.0 for k, d in df.items()}
        postings: dict[str, list[tuple[int, float]]] = {}
        for i, g in enumerate(grams):
            weights = {k: (1.0 + math.log(c)) * idf[k] for k, c in g.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for k, w in weights.items():
                postings.setdefault(k, []).append((i, w / norm))
        columns: dict[str, tuple[int, int, float]] = {}
        rows: list[int] = []
        values: list[float] = []
        for k, entries in postings.items():
            columns[k] = (len(rows), len(rows) + len(entries), idf[k])
            rows += [i for i, _ in entries]
            values += [v for _, v in entries]
        return cls(n, columns, np.asarray(rows, dtype=np.int64), np.asarray(values, np.float32))

    def gram(self) -> np.ndarray:
        """Cosine similarity of every indexed text to every other (`size` × `size`; the same
        values `query` gives for an indexed text)."""
        x = np.zeros((self.size, len(self.columns)), dtype=np.float32)
        if self.size and self.columns:
            spans = list(self.columns.values())
            cols = np.repeat(np.arange(len(spans)), [end - start for start, end, _ in spans])
            x[self.rows, cols] = self.values  # entries are stored column after column
        return (x @ x.T).astype(np.float64)

    def query(self, text: str) -> np.ndarray:
        """Cosine similarity of `text` to every indexed text (unseen n-grams count in its norm)."""
        grams = char_ngrams(text)
        if not grams or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        unseen = math.log(self.size + 1) + 1.0
        weights: list[float] = []
        slices: list[np.ndarray] = []
        total = 0.0
        for k, c in grams.items():
            col = self.columns.get(k)
            w = (1.0 + math.log(c)) * (col[2] if col else unseen)
            total += w * w
            if col:
                slices.append(np.arange(col[0], col[1]))
                weights.append(w)
        if not slices:
            return np.zeros(self.size, dtype=np.float32)
        idx = np.concatenate(slices)
        qw = np.repeat(np.asarray(weights, dtype=np.float32), [len(s) for s in slices])
        sims = np.bincount(
            self.rows[idx], weights=self.values[idx] * qw, minlength=self.size
        ) / math.sqrt(total)
        return sims.astype(np.float32)


def load_vectors(path: Path = PACKAGE_VECTORS) -> dict[str, np.ndarray]:
    """Text → unit vector from a shipped `.npz` (`texts`, `vectors`); empty when absent."""
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as data:
        texts = [str(t) for t in data["texts"]]
        vectors = np.asarray(data["vectors"], dtype=np.float32)
    return dict(zip(texts, vectors, strict=True))


def save_vectors(path: Path, vectors: dict[str, Any]) -> None:
    """Write text → vector as `.npz` (float16: a third of the size, cosine unchanged to 1e-3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = sorted(vectors)
    matrix = np.stack([np.asarray(vectors[t], dtype=np.float16) for t in texts])
    np.savez_compressed(path, texts=np.asarray(texts, dtype=str), vectors=matrix)


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """Unit MiniLM vectors (rows) for `texts`."""
    from manyshores.memory.embeddings import embed

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.asarray(embed(list(texts)), dtype=np.float32)
