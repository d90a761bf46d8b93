"""Task adapters: LoRA experts keyed by (culture, task), trained on synthesised examples.

    result = train_task_adapter(base, examples, culture="MEX", task="everyday_qa",
                                root=settings.user_experts_dir)
    runner = AdapterRunner(base, ExpertRegistry.from_settings(settings, base))  # .runner
    runner.generate(result.expert_id, task_messages("MEX", "What do kids eat?"))

The experts store holds them like any LoRA expert (kind `lora`, `tasks=[task, the detected
kind its format serves]`, culture `*` for a joint adapter over several cultures), so the registry
lists them and `routing` can pick them. Training is plain supervised fine-tuning on the answer tokens (the prompt is masked), on a
PEFT copy of the base model (the shared base is never modified), seeded, with a progress bar;
the best epoch by held-out loss is kept. Only safetensors are written.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError, ManyshoresError
from manyshores.experts.early_stopping import BestEpoch
from manyshores.experts.generation import chat_input_ids
from manyshores.experts.lora.config import LoraExpertConfig
from manyshores.experts.lora.model import adapter_weights, peft_copy
from manyshores.experts.store import ExpertManifest, save_expert
from manyshores.synthesis.prompts import task_messages

if TYPE_CHECKING:
    from manyshores.experts.base_model import BaseModel


DETECTED_TASK = {
    "short_answer": "open_qa",
    "multiple_choice": "multiple_choice",
    "survey": "multiple_choice",
    "classification": "classification",
}
"""The `detect_task` kind a format's data serves: a manifest lists it beside the task name, so
the graph can route by the task it detects (`route_task_experts(..., task_info.kind)`)."""


def task_adapter_id(culture: str, task: str) -> str:
    """Store id of the (culture, task) adapter; culture `*` is the joint adapter."""
    return f"{'joint' if culture == '*' else culture}.{task}.lora"


@dataclass
class TaskAdapterConfig:
    """LoRA hyperparameters plus the supervised fine-tuning settings."""

    lora: LoraExpertConfig = field(
        default_factory=lambda: LoraExpertConfig(r=8, alpha=16, epochs=1, lr=3e-4, patience=1)
    )
    """Rank, alpha, target modules, epochs, lr, val_fraction, seed. A light touch (one epoch at
    3e-4, as `data train-adapter`): stronger training taught the 135M model to answer one phrase
    and ignore its notes (README)."""
    batch_size: int = 8
    """Examples per optimiser step."""
    max_tokens: int = 384
    """Longer prompts are cut from the left (the question stays)."""
    context_share: float = 1.0
    """Share of examples shown with background notes, so the adapter learns to use retrieved
    notes (the `task_adapter_rag` system): the notes `train_task_adapter` is given (for example
    knowledge-base passages retrieved as at evaluation), else the example's source passage."""


Notes = Callable[[dict[str, Any], str], list[str]]
"""(example, its culture) → the background notes it is trained with (`train_task_adapter`)."""


@dataclass
class TrainedAdapter:
    """What training produced."""

    expert_id: str
    """Its id in the store."""
    path: Path
    """Its store directory."""
    metrics: dict[str, Any]
    """Losses, example counts, seconds."""


def source_question_ids(ex: dict[str, Any], known: frozenset[str] | set[str]) -> set[str]:
    """The `known` question ids an example was grounded in: path segments of its source URL.

    Pages built from BLEnD rows carry the row id in their URL; leaving that question out of the
    example's training notes makes them like the notes at evaluation, which never hold the
    evaluated question's own annotations."""
    import re

    source = str((ex.get("provenance") or {}).get("source") or "")
    return {seg for seg in re.split(r"[/#:?&=]", source) if seg in known}


def example_messages(
    ex: dict[str, Any], culture: str, with_context: bool, notes: Notes | None = None
) -> list[dict[str, str]]:
    """The prompt a synthesised example is trained with (the adapter's culture names it).

    With context: the passages `notes` gives for it, else its own source passage."""
    context: list[str] = []
    if with_context and notes is not None:
        context = notes(ex, culture)
    elif with_context and ex.get("provenance"):
        context = [ex["provenance"]["passage"]]
    return task_messages(
        culture,
        ex["question"],
        fmt=ex.get("format", "short_answer"),
        options=ex.get("options") or (),
        context=context,
    )


def _encode(base: BaseModel, messages: list[dict[str, str]], answer: str, max_tokens: int):
    """(input ids, labels) with the prompt masked out of the loss."""
    tok: Any = base.tokenizer
    prompt = chat_input_ids(base, messages)[0].tolist()
    target = tok(answer + (tok.eos_token or ""), add_special_tokens=False)["input_ids"]
    prompt = prompt[-max(max_tokens - len(target), 8) :]
    return prompt + target, [-100] * len(prompt) + target


def _batches(rows: list[tuple[list[int], list[int]]], size: int, pad: int):
    """Left-padded batches: every row's answer ends at the last position (see `_answer_loss`)."""
    import torch

    for i in range(0, len(rows), size):
        chunk = rows[i : i + size]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, (x, y) in enumerate(chunk):
            ids[j, width - len(x) :] = torch.tensor(x)
            labels[j, width - len(y) :] = torch.tensor(y)
            mask[j, width - len(x) :] = 1
        yield ids, labels, mask


def _answer_loss(model: Any, ids: Any, labels: Any, mask: Any, device: Any) -> Any:
    """Mean next-token cross-entropy over the answer tokens, as `model(labels=...)` computes it,
    but from the logits of the last positions only. The full-vocabulary logits of every
    prompt position (notes make prompts ~400 tokens) took gigabytes and a fifth of the compute."""
    import torch.nn.functional as F

    first = int((labels != -100).any(dim=0).nonzero()[0])
    keep = ids.shape[1] - first + 1  # the position before the first answer token predicts it
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as if each row were unpadded
    out = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        logits_to_keep=keep,
    )
    logits = out.logits[:, :-1].float()
    target = labels[:, first:].to(device)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def _mean_loss(model: Any, rows: list[Any], cfg: TaskAdapterConfig, pad: int, device: Any) -> float:
    import torch

    total, n = 0.0, 0
    with torch.no_grad():
        for ids, labels, mask in _batches(rows, cfg.batch_size, pad):
            total += float(_answer_loss(model, ids, labels, mask, device)) * len(ids)
            n += len(ids)
    return total / max(n, 1)


def train_task_adapter(
    base: BaseModel,
    examples: list[dict[str, Any]],
    *,
    culture: str,
    task: str,
    root: Path,
    config: TaskAdapterConfig | None = None,
    progress: bool = True,
    notes: Notes | None = None,
) -> TrainedAdapter:
    """Fine-tune a LoRA adapter on `examples` and save it as expert `task_adapter_id(...)`.

    For a joint adapter pass `culture="*"`: each example is then prompted with its own culture.
    `notes` gives the background notes of the examples shown with context (`context_share`);
    without it they are shown their source passage. Training stops after `lora.patience`
    epochs without a better held-out loss (the best epoch is kept).
    """
    import torch
    from tqdm import tqdm

    cfg = config or TaskAdapterConfig()
    if not examples:
        raise InvalidInputError("no training examples")
    start = time.perf_counter()
    rng = random.Random(cfg.lora.seed)
    torch.manual_seed(cfg.lora.seed)
    rows = []
    for ex in examples:
        own = ex.get("culture", culture) if culture == "*" else culture
        messages = example_messages(ex, own, rng.random() < cfg.context_share, notes)
        rows.append(_encode(base, messages, str(ex["answer"]), cfg.max_tokens))
    rng.shuffle(rows)
    n_val = int(len(rows) * cfg.lora.val_fraction) if len(rows) >= 10 else 0
    val, train = rows[:n_val], rows[n_val:]
    model = peft_copy(base.model, cfg.lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lora.lr)
    pad = int(base.tokenizer.pad_token_id or 0)
    device = base.device
    best, history = BestEpoch(cfg.lora.patience), []
    steps = math.ceil(len(train) / cfg.batch_size) * cfg.lora.epochs
    bar = tqdm(total=steps, disable=not progress, desc=f"train {task_adapter_id(culture, task)}")
    for _epoch in range(cfg.lora.epochs):
        rng.shuffle(train)
        epoch_loss = 0.0
        for ids, labels, mask in _batches(train, cfg.batch_size, pad):
            batch_loss = _answer_loss(model, ids, labels, mask, device)
            opt.zero_grad()
            batch_loss.backward()
            opt.step()
            loss = float(batch_loss.detach())
            epoch_loss += loss * len(ids)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
        model.eval()
        score = _mean_loss(model, val, cfg, pad, device) if val else epoch_loss / len(train)
        model.train()
        history.append(round(score, 4))
        if best.update(score, lambda: adapter_weights(model)):
            break
    bar.close()
    if not best.weights:  # every epoch's loss was NaN: nothing worth saving
        raise ManyshoresError(
            f"training {task_adapter_id(culture, task)} diverged (loss NaN in every epoch); "
            "try a lower learning rate"
        )
    data = json.dumps([e.get("id", e["question"]) for e in examples], sort_keys=True)
    metrics = {
        "val_loss" if val else "train_loss": round(best.loss, 4),
        "loss_by_epoch": history,
        "n_train": len(train),
        "n_val": len(val),
        "seconds": round(time.perf_counter() - start, 1),
    }
    hp = {
        **asdict(cfg.lora),
        "batch_size": cfg.batch_size,
        "max_tokens": cfg.max_tokens,
        "context_share": cfg.context_share,
        "notes": "given" if notes is not None else "source_passage",
        "objective": "sft_answer_tokens",
    }
    manifest = ExpertManifest(
        id=task_adapter_id(culture, task),
        culture=culture,
        kind="lora",
        base_fingerprint=base.fingerprint,
        tasks=[
            task,
            *sorted({DETECTED_TASK.get(e.get("format", ""), "open_qa") for e in examples} - {task}),
        ],
        data_hash=hashlib.sha256(data.encode()).hexdigest()[:16],
        hyperparameters=hp,
        metrics=metrics,
    )
    path = save_expert(root, manifest, best.weights)
    return TrainedAdapter(manifest.id, path, metrics)
