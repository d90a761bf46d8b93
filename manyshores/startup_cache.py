"""Objects that take seconds to build from shipped files, pickled once under the home directory.

The culture registry and its mention index are built from CLDR names (pycountry, babel) and the
package's curated data: 2.9 s and 1.6 s of a cold start at load ~8 on the shared 2-core machine,
against 0.1 s and 0.6 s read back (`docs/speed.md`). The key hashes every input that decides the
result (the building modules' source, the data files, the library versions), so a change to any
of them is a new file, never a stale object; a file that cannot be read is rebuilt and rewritten.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """`MANYSHORES_HOME/cache` (where the survey vectors and the embedder's graph live too)."""
    from manyshores.config import get_settings

    return get_settings().home_dir / "cache"


def files_key(paths: Iterable[Path], extra: Iterable[str] = ()) -> str:
    """A digest of the files' contents and the `extra` strings, plus the Python version (pickles
    are read back by the same interpreter line)."""
    digest = hashlib.sha256(sys.version.encode())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:20]


def cached_pickle(name: str, key: str, build: Callable[[], T], directory: Path | None = None) -> T:
    """The object pickled as `name`-`key` in `directory` (default `cache_dir()`), else `build()`
    it and store it (written whole to a temporary name, then renamed: a reader never sees half a
    file; an unwritable home only costs the next process the build)."""
    path = (directory or cache_dir()) / f"{name}-{key}.pickle"
    try:
        with open(path, "rb") as fh:
            value: T = pickle.load(fh)
        return value
    except FileNotFoundError:
        pass
    except Exception as exc:  # damaged or from an incompatible version: build it again
        log.warning("rebuilding %s: cached copy unreadable (%s)", path, exc)
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("not caching %s: %s", path, exc)
    return value
