"""A small cut of the shipped BLEnD and WVS data for tests that seed a knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

from manyshores.memory.seed import WVS_DIR
from manyshores.paths import PACKAGE_BLEND


def small_seed_data(tmp_path: Path) -> tuple[Path, Path]:
    """Two BLEnD cultures (four rows each) and two WVS questions, cut from the shipped data."""
    blend = tmp_path / "blend"
    blend.mkdir()
    for name in ("US.json", "South_Korea.json"):
        rows = json.loads((PACKAGE_BLEND / name).read_text())[:4]
        (blend / name).write_text(json.dumps(rows, ensure_ascii=False))
    wvs = tmp_path / "wvs"
    wvs.mkdir()
    questions = json.loads((WVS_DIR / "questions.json").read_text())[:2]
    train = json.loads((WVS_DIR / "train.json").read_text())
    country = sorted(train)[0]
    keep = {q["id"] for q in questions}
    (wvs / "questions.json").write_text(json.dumps(questions))
    (wvs / "train.json").write_text(
        json.dumps({country: {q: s for q, s in train[country].items() if q in keep}})
    )
    return blend, wvs
