"""The default knowledge base: the survey statements and BLEnD passages shipped in the package.

`seed_default(kb)` adds both once (`manyshores kb init`, run by `make setup`). A marker written
after a complete seed makes every later call a file read and a count: the set-up and the demo
can call it unconditionally, and no turn ever pays for building the base.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from manyshores.config import Settings, get_settings
from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.paths import PACKAGE_BLEND, PACKAGE_WVS

WVS_DIR = PACKAGE_WVS
"""WVS answer shares (train split) → one survey statement per country and question."""
BLEND_DIR = PACKAGE_BLEND
"""BLEnD rows → English and local-language passages per question, plus topic digests."""


def data_fingerprint(*dirs: Path) -> str:
    """Hash of every JSON file the seed reads (a changed file means a new seed)."""
    h = hashlib.sha256()
    for d in dirs:
        for path in sorted(d.glob("*.json")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def marker_path(kb: KnowledgeBase, settings: Settings) -> Path:
    """Inside an embedded store (deleting the store deletes the marker); beside the other
    caches for a server, keyed by its URL."""
    if settings.chroma_url:
        key = hashlib.sha256(f"{settings.chroma_url}\x00{kb.name}".encode()).hexdigest()[:12]
        return settings.home_dir / f"kb-seed-{key}.json"
    return settings.chroma_dir / f"manyshores-seed-{kb.name}.json"


def is_seeded(
    kb: KnowledgeBase,
    settings: Settings | None = None,
    *,
    wvs_dir: Path = WVS_DIR,
    blend_dir: Path = BLEND_DIR,
) -> bool:
    """True when a complete seed of this data is recorded and the base still holds it."""
    settings = settings or get_settings()
    try:
        marker = json.loads(marker_path(kb, settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("fingerprint") != data_fingerprint(wvs_dir, blend_dir):
        return False
    return kb.count() >= int(marker.get("documents", 0))


def seed_default(
    kb: KnowledgeBase,
    settings: Settings | None = None,
    *,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    wvs_dir: Path = WVS_DIR,
    blend_dir: Path = BLEND_DIR,
) -> dict[str, Any]:
    """Add the shipped survey statements and BLEnD passages (idempotent; skipped when the
    marker says it is done, unless `force`). `progress(label, done, total)` after each batch."""
    from manyshores.memory.ingest import load_blend, load_wvs
    from manyshores.memory.shipped_vectors import ShippedVectors

    settings = settings or get_settings()
    if not force and is_seeded(kb, settings, wvs_dir=wvs_dir, blend_dir=blend_dir):
        return {"seeded": False, "reason": "already seeded", "documents": kb.count()}
    started = time.perf_counter()
    report: dict[str, Any] = {"seeded": True, "sources": []}
    # Prebuilt vectors of the shipped passages; a passage they do not know is embedded here.
    shipped = ShippedVectors.load()
    for label, load in (
        ("survey statements (WVS wave 7)", lambda: list(load_wvs(wvs_dir))),
        ("BLEnD passages", lambda: list(load_blend(blend_dir))),
    ):
        docs = list(shipped.fill(load()))
        done = 0

        def advance(n: int, label: str = label, total: int = len(docs)) -> None:
            nonlocal done
            done += n
            if progress:
                progress(label, done, total)

        added = kb.add(docs, progress=advance)
        report["sources"].append(
            {
                "source": label,
                "documents": len(docs),
                "added": added.added,
                "skipped": added.skipped,
                "not_prebuilt": sum(d.vector is None for d in docs),
            }
        )
    report["documents"] = kb.count()
    report["seconds"] = round(time.perf_counter() - started, 1)
    path = marker_path(kb, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "fingerprint": data_fingerprint(wvs_dir, blend_dir),
                "documents": report["documents"],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    return report
