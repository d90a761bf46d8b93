"""Detection cases for cues and conversations the BLEnD-built sets do not cover.

Two sources, each split into a tuning part and a held-out part (`tune`, `held`):

- hand-written cases (`manyshores/data/detect/cues_hand.jsonl`): questions that name no country
  but a festival, dish, landmark, institution, currency or city of one of 22 cultures; the
  person's own culture set (`profile`) with "we"/"our" in several languages, with a generic
  question, and with a question about another culture; messages whose only cue is a language
  several countries share. Split by a hash of the case id, written before any was scored;
- topic switches after three turns, from BLEnD: three English user turns about the UK or the
  US, then a question naming another culture (`switch_after_3`, expected: that culture) or
  naming none (`stay_after_3`, expected: the earlier one). Built from the `dev` question ids for
  the tuning part and from the `test` ids for the held-out part (`detect_cases.split_of`).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from manyshores.blend_files import blend_rows
from manyshores.eval.datasets.detect_cases import (
    BLEND_CULTURES,
    PlaceRemover,
    split_of,
)
from manyshores.eval.jsonl import read_jsonl
from manyshores.paths import PACKAGE_DETECT

HAND_CASES = PACKAGE_DETECT / "cues_hand.jsonl"
PARTS = ("tune", "held")
EARLIER = ("GBR", "USA")
"""The cultures of the three earlier turns (English conversations, as people have them)."""
_OPENERS = {
    "GBR": ("I live in the UK.", "I'm British.", "Let's talk about the UK."),
    "USA": ("I live in the US.", "I'm American.", "Let's talk about the United States."),
}
_REPLIES = (
    "In {name}, the most common answer is: {answer}.",
    "People in {name} most often say: {answer}.",
    "Sure. In {name}: {answer}.",
)
"""Replies as the assistant gives them: they name the culture they answered for."""
_NAMES = {"GBR": "the United Kingdom", "USA": "the United States"}


def part_of(case_id: str) -> str:
    """`tune` or `held`, stable per case id (about half each)."""
    return PARTS[int(hashlib.md5(case_id.encode()).hexdigest(), 16) % 2]


def hand_cases(path: Path = HAND_CASES) -> dict[str, list[dict[str, Any]]]:
    """The hand-written cases by part."""
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in PARTS}
    for case in read_jsonl(path):
        out[part_of(str(case["id"]))].append(case)
    return out


def switch_cases(
    blend_dir: Path, split: str, per_culture: int = 6, seed: int = 0
) -> list[dict[str, Any]]:
    """Three English turns about the UK or the US, then a fourth that names another culture
    (`switch_after_3`) or none (`stay_after_3`)."""
    remover = PlaceRemover()
    rng = random.Random(f"switch-{seed}-{split}")
    rows = [r for r in blend_rows(blend_dir) if split_of(str(r["id"])) == split]
    by_culture: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_culture.setdefault(str(r["culture"]), []).append(r)
    for pool in by_culture.values():
        pool.sort(key=lambda r: str(r["id"]))
        rng.shuffle(pool)
    cases: list[dict[str, Any]] = []
    for culture in BLEND_CULTURES:
        choices = [c for c in EARLIER if c != culture and len(by_culture.get(c, [])) >= 2]
        if not choices:
            continue
        for n, row in enumerate(by_culture.get(culture, [])[:per_culture]):
            earlier = rng.choice(choices)
            history = _earlier_turns(earlier, by_culture.get(earlier, []), rng)
            question = str(row["en_question"]).strip()
            cases.append({
                "id": f"switch_after_3:{culture}:{row['id']}",
                "messages": [*history, {"role": "user", "content": question}],
                "label": [culture], "kind": "switch_after_3", "expect": "culture",
            })  # fmt: skip
            bare = remover.remove(question) if n % 2 == 0 else None
            if bare:
                cases.append({
                    "id": f"stay_after_3:{earlier}:{row['id']}",
                    "messages": [*history, {"role": "user", "content": bare}],
                    "label": [earlier], "kind": "stay_after_3", "expect": "culture",
                })  # fmt: skip
    return cases


def _earlier_turns(
    culture: str, pool: list[dict[str, Any]], rng: random.Random
) -> list[dict[str, str]]:
    """Three user turns about `culture` (an opener, then two of its BLEnD questions, which name
    it), each answered."""
    rows = rng.sample(pool, 2)
    turns = [(rng.choice(_OPENERS[culture]), "tea")]
    turns += [(str(r["en_question"]).strip(), _answer(r)) for r in rows]
    out: list[dict[str, str]] = []
    for text, answer in turns:
        reply = rng.choice(_REPLIES).format(name=_NAMES[culture], answer=answer)
        out += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
    return out


def _answer(row: dict[str, Any]) -> str:
    for ann in row.get("annotations") or []:
        for text in ann.get("en_answers") or []:
            return str(text)
    return "it depends"


def build_cue_sets(blend_dir: Path, per_culture: int = 6) -> dict[str, list[dict[str, Any]]]:
    """Both parts: hand-written cases plus switch cases (`dev` ids → tune, `test` → held)."""
    hand = hand_cases()
    return {
        "tune": hand["tune"] + switch_cases(blend_dir, "dev", per_culture),
        "held": hand["held"] + switch_cases(blend_dir, "test", per_culture),
    }
