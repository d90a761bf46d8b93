"""Prebuilt MiniLM vectors of the shipped passages, so building the default knowledge base is
an insert, not four minutes of embedding on one core.

The vectors are keyed by a hash of each passage's text: a passage whose text changed (new data,
a new passage format) simply misses and is embedded as before, so a stale file can only cost time,
never return a wrong vector. Rebuild after changing the shipped data or the passage format:

    python -m manyshores.memory.shipped_vectors
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from manyshores.passages import Document
from manyshores.paths import SHIPPED_PASSAGE_VECTORS

log = logging.getLogger(__name__)

SHIPPED_VECTORS = SHIPPED_PASSAGE_VECTORS


def text_key(text: str) -> int:
    """64-bit key of a passage text (collisions among 13,000 texts: about 1 in 10^11)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class ShippedVectors:
    """Lookup of prebuilt passage vectors by text."""

    def __init__(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or keys.shape[0] != vectors.shape[0]:
            raise ValueError(f"{keys.shape[0]} keys for vectors of shape {vectors.shape}")
        self._row = {int(k): i for i, k in enumerate(keys)}
        self._vectors = vectors

    def __len__(self) -> int:
        return len(self._row)

    @classmethod
    def load(cls, path: Path | None = None) -> ShippedVectors:
        """The file's vectors (default: the shipped file); an empty lookup (everything gets
        embedded) when it is missing or unreadable, with the reason logged."""
        path = path or SHIPPED_VECTORS
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["keys"], data["vectors"])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("no prebuilt passage vectors (%s): the passages will be embedded", exc)
            return cls(np.zeros(0, dtype=np.uint64), np.zeros((0, 0), dtype=np.float16))

    def vector(self, text: str) -> tuple[float, ...] | None:
        row = self._row.get(text_key(text))
        if row is None:
            return None
        return tuple(float(x) for x in self._vectors[row].astype(np.float32))

    def fill(self, docs: Iterable[Document]) -> Iterator[Document]:
        """`docs`, each one without a vector of its own given its prebuilt vector when known."""
        for doc in docs:
            if doc.vector is None:
                found = self.vector(doc.text)
                if found is not None:
                    doc = replace(doc, vector=found)
            yield doc


def write_shipped_vectors(docs: Iterable[Document], path: Path | None = None) -> int:
    """Embed every distinct text of `docs` that has no vector of its own and write the file;
    the number of vectors written."""
    from tqdm import tqdm

    from manyshores.memory.embeddings import embed

    path = path or SHIPPED_VECTORS
    texts = sorted({d.text for d in docs if d.vector is None})
    vectors: list[list[float]] = []
    batch = 256
    for start in tqdm(range(0, len(texts), batch), desc="embedding passages", unit="batch"):
        vectors.extend(embed(texts[start : start + batch]))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        keys=np.asarray([text_key(t) for t in texts], dtype=np.uint64),
        # float16: half the size; cosines move by about 1e-3, far below retrieval's margins.
        vectors=np.asarray(vectors, dtype=np.float16),
    )
    return len(texts)


def main() -> None:
    from manyshores.memory.ingest import load_blend, load_wvs
    from manyshores.paths import PACKAGE_BLEND as BLEND_DIR
    from manyshores.paths import PACKAGE_WVS as WVS_DIR

    docs = [*load_wvs(WVS_DIR), *load_blend(BLEND_DIR)]
    count = write_shipped_vectors(docs)
    print(f"{count} passage vectors written to {SHIPPED_VECTORS}")


if __name__ == "__main__":
    main()
