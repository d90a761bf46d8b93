"""Task adapters: LoRA experts keyed by (culture, task), trained on synthesised examples.

    result = train_task_adapter(base, examples, culture="MEX", task="everyday_qa",
                                root=settings.user_experts_dir)
    runner = AdapterRunner(base, ExpertRegistry.from_settings(settings, base))  # .runner
    runner.generate(result.expert_id, task_messages("MEX", "What do kids eat?"))

The experts store holds them like any LoRA expert (kind `lora`, `tasks=[task, the detected
kind its format serves]`, culture `*` for a joint adapter over several cultures), so the registry
lists them and `routing` can pick them. Training is the one LoRA loop (`lora.train.fit_lora`)
with the answer-token loss: supervised fine-tuning on the answer tokens (the prompt is masked),
on a PEFT copy of the base model, seeded, with a progress bar; the best epoch by held-out loss is
kept. Only safetensors are written.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import InvalidInputError
from manyshores.experts.lora.config import LoraExpertConfig
from manyshores.experts.lora.train import answer_loss, fit_lora
from manyshores.experts.prompts import task_messages
from manyshores.experts.store import ExpertManifest, save_expert
from manyshores.runtime.generation import chat_input_ids

if TYPE_CHECKING:
    from manyshores.runtime.base_model import BaseModel


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
    from tqdm import tqdm

    cfg = config or TaskAdapterConfig()
    if not examples:
        raise InvalidInputError("no training examples")
    start = time.perf_counter()
    rng = random.Random(cfg.lora.seed)
    rows = []
    for ex in examples:
        own = ex.get("culture", culture) if culture == "*" else culture
        messages = example_messages(ex, own, rng.random() < cfg.context_share, notes)
        rows.append(_encode(base, messages, str(ex["answer"]), cfg.max_tokens))
    rng.shuffle(rows)
    n_val = int(len(rows) * cfg.lora.val_fraction) if len(rows) >= 10 else 0
    val, train = rows[:n_val], rows[n_val:]
    name = task_adapter_id(culture, task)
    bar = tqdm(total=0, disable=not progress, desc=f"train {name}")

    def step(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    weights, metrics = fit_lora(
        base, train, val, answer_loss(base), cfg.lora, cfg.batch_size, step, name
    )
    bar.close()
    data = json.dumps([e.get("id", e["question"]) for e in examples], sort_keys=True)
    metrics["seconds"] = round(time.perf_counter() - start, 1)
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
    path = save_expert(root, manifest, weights)
    return TrainedAdapter(manifest.id, path, metrics)
