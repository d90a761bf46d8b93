"""A question metric learnt from the answers: questions are close when people answer them alike.

MiniLM puts "which city hosts the most festivals?" next to "which festival is the most famous?":
the words agree, the answers do not. The bank knows better — two questions are related for this
purpose when the answers people gave to one are right for the other. `fit_metric` learns a
linear map of MiniLM's question vectors (near the identity) under which a question's nearest
questions are the ones whose answers fit it, over every culture at once (a question id is one
question in every culture). Matching then compares mapped vectors (`project`). A second map
(`fit_answer_map`) carries a question to the kind of answer it takes, for the ranker's type-fit
feature. Both are shipped beside the ranker (`data/evidence/metric.safetensors`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manyshores.errors import InvalidInputError
from manyshores.evidence.bank import AnswerBank
from manyshores.paths import PACKAGE_EVIDENCE
from manyshores.textnorm import tokens

PACKAGE_METRIC = PACKAGE_EVIDENCE / "metric.safetensors"
"""The maps fitted on every shipped question id (the bank a new question is asked of)."""

TEMPERATURE = 0.1
"""Softmax temperature of the mapped cosine over a question's candidate neighbours."""
PULL = 0.03
"""Penalty on the map's distance from the identity (squared Frobenius norm)."""
STEPS = 200
"""Full-batch Adam steps (learning rate 1e-3)."""
ANSWER_TEMPERATURE = 0.05
"""Softmax temperature of the answer-type map over the answers people gave."""


def answer_overlap(bank: AnswerBank, ids: Sequence[str]) -> np.ndarray:
    """`R[i, j]`: the share of question `ids[j]`'s annotators whose (first English) answer is
    right for question `ids[i]` by BLEnD's matching, averaged over the cultures that have both.

    Matching as `textnorm.is_correct`: a human answer of `i` occurs as a run of words in the
    answer given to `j`. Indexed by those runs, so it costs a few lookups per answer."""
    where = {qid: k for k, qid in enumerate(ids)}
    total = np.zeros((len(ids), len(ids)))
    seen = np.zeros((len(ids), len(ids)))
    for qs in bank.questions.values():
        rows = [q for q in qs if q.id in where]
        by_run: dict[tuple[str, ...], set[int]] = {}
        for q in rows:
            for ann in q.annotations:
                for text in (*ann.en_answers, *ann.answers):
                    run = tuple(tokens(text))
                    if run:
                        by_run.setdefault(run, set()).add(where[q.id])
        at = np.asarray([where[q.id] for q in rows], dtype=np.int64)
        seen[np.ix_(at, at)] += 1
        for q in rows:
            j = where[q.id]
            people = q.total or 1
            for ann in q.annotations:
                if not ann.en_answers:
                    continue
                said = tokens(ann.en_answers[0])
                hit: set[int] = set()
                for a in range(len(said)):
                    for b in range(a + 1, len(said) + 1):
                        hit |= by_run.get(tuple(said[a:b]), set())
                for i in hit - {j}:
                    total[i, j] += ann.count / people
    np.fill_diagonal(seen, 0)
    return total / np.maximum(seen, 1)


def fit_metric(
    vectors: np.ndarray,
    overlap: np.ndarray,
    *,
    temperature: float = TEMPERATURE,
    pull: float = PULL,
    steps: int = STEPS,
) -> np.ndarray:
    """The map `W` (d × d): for each question `i` (rows of `vectors`, unit MiniLM vectors),
    softmax over the other questions of cosine(`v_i W`, `v_j W`) / `temperature` is fitted to
    `overlap[i]` normalised (cross-entropy), with `pull` · ‖W − I‖² keeping it near MiniLM.
    Questions whose answers fit no other question's are left out of the loss."""
    import torch

    if vectors.ndim != 2 or overlap.shape != (len(vectors), len(vectors)):
        raise InvalidInputError("fit_metric needs n vectors and an n × n overlap")
    target = torch.tensor(overlap, dtype=torch.float32)
    target.fill_diagonal_(0)
    self_pairs = torch.eye(len(vectors), dtype=torch.bool)

    def logits(z: torch.Tensor) -> torch.Tensor:
        return ((z @ z.T) / temperature).masked_fill(self_pairs, -1e9)

    return _fit_near_identity(vectors, target, logits, pull, steps)


def answer_targets(bank: AnswerBank, ids: Sequence[str], keys: Sequence[str]) -> np.ndarray:
    """`T[i, k]`: the share of question `ids[i]`'s annotators who gave answer `keys[k]` (an
    annotation's first English variant), summed over the cultures, each row normalised."""
    where = {qid: n for n, qid in enumerate(ids)}
    column = {k: n for n, k in enumerate(keys)}
    target = np.zeros((len(ids), len(keys)), dtype=np.float32)
    for qs in bank.questions.values():
        for q in qs:
            if q.id not in where:
                continue
            people = q.total or 1
            for ann in q.annotations:
                k = column.get(answer_key(ann.en_answers, ann.answers))
                if k is not None:
                    target[where[q.id], k] += ann.count / people
    return target / np.maximum(target.sum(1, keepdims=True), 1e-9)


def answer_key(en_answers: Sequence[str], answers: Sequence[str]) -> str:
    """The text an annotation's answer vector is stored under (`data/evidence/answers.npz`)."""
    return (en_answers or answers)[0]


def fit_answer_map(
    vectors: np.ndarray,
    answers: np.ndarray,
    target: np.ndarray,
    *,
    temperature: float = ANSWER_TEMPERATURE,
    pull: float = PULL,
    steps: int = STEPS,
) -> np.ndarray:
    """The map `M` (d × d) from a question's vector to the kind of answer it takes: softmax over
    `answers` (unit rows) of cosine(`v_i M`, `a`) / `temperature` fitted to `target[i]` (what
    people answered), `pull` · ‖M − I‖² keeping it near MiniLM. MiniLM's own cosine of an
    answer with a question says little about whether it is the kind of thing asked for (a
    city for "which festival"); this learns it from the answers given to other questions."""
    import torch

    if target.shape != (len(vectors), len(answers)):
        raise InvalidInputError("fit_answer_map needs an n × m target for n questions, m answers")
    a = torch.tensor(answers, dtype=torch.float32)

    def logits(z: torch.Tensor) -> torch.Tensor:
        return (z @ a.T) / temperature

    return _fit_near_identity(
        vectors, torch.tensor(target, dtype=torch.float32), logits, pull, steps
    )


def _fit_near_identity(
    vectors: np.ndarray, target: Any, logits: Callable[[Any], Any], pull: float, steps: int
) -> np.ndarray:
    """The map `W` (d × d, from the identity) minimising the cross-entropy of
    softmax(`logits`(unit rows of `vectors` W)) against `target`'s rows normalised, plus `pull` ·
    ‖W − I‖². Rows with an empty target are left out of the loss; with none left, the identity."""
    import torch

    torch.manual_seed(0)
    x = torch.tensor(vectors, dtype=torch.float32)
    keep = target.sum(1) > 0
    eye = torch.eye(x.shape[1])
    if not bool(keep.any()):  # nothing to learn from: MiniLM's own cosines
        return eye.numpy().astype(np.float32)
    target = target / target.sum(1, keepdim=True).clamp_min(1e-9)
    w = eye.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=1e-3)
    for _ in range(steps):
        z = x @ w
        z = z / z.norm(dim=1, keepdim=True)
        loss = -(target * torch.log_softmax(logits(z), 1)).sum(1)[keep].mean()
        loss = loss + pull * ((w - eye) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach().numpy().astype(np.float32)


def project(vectors: np.ndarray, metric: np.ndarray | None) -> np.ndarray:
    """Unit rows of `vectors @ metric` (the vectors themselves without a metric)."""
    if metric is None or vectors.size == 0:
        return vectors
    mapped = vectors @ metric
    norms = np.linalg.norm(mapped, axis=-1, keepdims=True)
    return (mapped / np.maximum(norms, 1e-9)).astype(np.float32)


def save_metric(
    path: Path, metric: np.ndarray, bank: str, answer_map: np.ndarray | None = None
) -> None:
    """Write the question metric (and the answer-type map) as safetensors, with the fingerprint
    of the bank they were fitted on."""
    from safetensors.numpy import save_file

    tensors = {"metric": np.ascontiguousarray(metric, dtype=np.float32)}
    if answer_map is not None:
        tensors["answers"] = np.ascontiguousarray(answer_map, dtype=np.float32)
    save_file(tensors, str(path), metadata={"bank": bank})


def load_metric(path: Path = PACKAGE_METRIC, bank: str | None = None) -> np.ndarray | None:
    """The stored question metric, or None when there is no file or (with `bank`, an
    `AnswerBank.fingerprint()`) when it was fitted on another bank: a map is fitted to the
    questions it will be asked to find, and others stand out of its geometry.

    A file that is not a square float map of safetensors raises `InvalidInputError`."""
    return _load(path, "metric", bank)


def load_answer_map(path: Path = PACKAGE_METRIC, bank: str | None = None) -> np.ndarray | None:
    """The stored answer-type map, as `load_metric` (None also when the file has none)."""
    return _load(path, "answers", bank, required=False)


def _load(path: Path, name: str, bank: str | None, required: bool = True) -> np.ndarray | None:
    if not path.is_file():
        return None
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            stored_bank = (f.metadata() or {}).get("bank")
            names = f.keys()
            tensor = f.get_tensor(name) if name in names else None
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidInputError(f"{path} is not a readable question metric: {exc}") from exc
    if tensor is None and not required:
        return None
    if tensor is None or tensor.ndim != 2 or tensor.shape[0] != tensor.shape[1]:
        raise InvalidInputError(f"{path} holds no square `{name}` tensor")
    if not np.isfinite(tensor).all():
        raise InvalidInputError(f"{path}: the `{name}` map has non-finite values")
    if bank is not None and stored_bank != bank:
        return None
    return tensor.astype(np.float32)
