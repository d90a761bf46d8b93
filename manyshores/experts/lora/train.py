"""The one LoRA training loop, with its two losses.

    weights, metrics = fit_lora(base, train, val, survey_loss(base), config)          # survey
    weights, metrics = fit_lora(base, rows, val_rows, answer_loss(base), config, 8)   # answers

`survey_loss` is the soft-label cross-entropy of an expert's option distribution against a
culture's answer shares (`manyshores experts train --kind lora`); `answer_loss` is supervised
fine-tuning on the answer tokens of a prompt + answer row (task adapters,
`experts.task_adapters`). Either way: a PEFT copy of the base (the shared base is never
modified), seeded epochs, the best epoch kept by `BestEpoch` on the held-out loss (the training
loss when nothing is held out), and a clear error when every epoch diverged.

LoRA changes every position, so unlike soft prompts the whole prompt runs with gradient each
step: expect it to be several times slower than a soft prompt on the same data.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from manyshores.errors import ManyshoresError
from manyshores.experts.early_stopping import BestEpoch
from manyshores.experts.lora.config import LoraExpertConfig
from manyshores.experts.lora.model import adapter_weights, peft_copy
from manyshores.runtime.scoring import label_token_ids, prompt_ids

if TYPE_CHECKING:
    import torch

    from manyshores.experts.softprompt.train import PromptExample
    from manyshores.runtime.base_model import BaseModel

T = TypeVar("T")
Loss = Callable[[Any, Sequence[T]], "torch.Tensor"]
"""(model, a batch of examples) → the batch's mean loss."""
Row = tuple[list[int], list[int]]
"""(token ids of prompt + answer, labels: -100 on the prompt, the answer's ids after it)."""
MIN_DELTA = 1e-4
"""How much lower an epoch's loss must be to count as better."""


def survey_loss(base: BaseModel) -> Loss[PromptExample]:
    """Soft-label cross-entropy of the option distribution against the answer shares."""

    def loss(model: Any, batch: Sequence[PromptExample]) -> torch.Tensor:
        import torch

        total = []
        for ex in batch:
            ids = prompt_ids(base, [{"role": r, "content": c} for r, c in ex.messages])
            out = model(input_ids=torch.tensor([ids], device=base.device), logits_to_keep=1)
            labels = label_token_ids(base, ex.n_options)
            logp = torch.log_softmax(out.logits[0, -1, labels], dim=-1)
            total.append(-(torch.tensor(ex.target, device=base.device) * logp).sum())
        return torch.stack(total).mean()

    return loss


def answer_loss(base: BaseModel) -> Loss[Row]:
    """Mean next-token cross-entropy over the answer tokens of left-padded rows, as
    `model(labels=...)` computes it, but from the logits of the last positions only: the
    full-vocabulary logits of every prompt position (notes make prompts ~400 tokens) took
    gigabytes and a fifth of the compute."""
    from manyshores.runtime.batching import IGNORE, left_pad, pad_id

    pad = pad_id(base.tokenizer)

    def loss(model: Any, batch: Sequence[Row]) -> torch.Tensor:
        import torch.nn.functional as F

        padded = left_pad([ids for ids, _ in batch], pad, [y for _, y in batch])
        labels = padded.labels
        assert labels is not None
        first = int((labels != IGNORE).any(dim=0).nonzero()[0])
        keep = padded.width - first + 1  # the position before the first answer token predicts it
        out = model(
            input_ids=padded.ids.to(base.device),
            attention_mask=padded.mask.to(base.device),
            position_ids=padded.positions().to(base.device),
            logits_to_keep=keep,
        )
        logits = out.logits[:, :-1].float()
        target = labels[:, first:].to(base.device)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))

    return loss


def _batches(rows: Sequence[T], size: int) -> list[Sequence[T]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def mean_loss(model: Any, rows: Sequence[T], loss: Loss[T], batch_size: int) -> float:
    """The loss over `rows`, each row weighing the same (no gradient)."""
    import torch

    total, n = 0.0, 0
    with torch.no_grad():
        for batch in _batches(rows, batch_size):
            total += float(loss(model, batch)) * len(batch)
            n += len(batch)
    return total / n if n else math.nan


def fit_lora(
    base: BaseModel,
    train: Sequence[T],
    val: Sequence[T],
    loss: Loss[T],
    config: LoraExpertConfig,
    batch_size: int = 1,
    progress: Callable[[int, int], None] | None = None,
    name: str = "LoRA expert",
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train a LoRA adapter on a private PEFT copy of the base; (best weights, metrics).

    Metrics: `val_loss` of the kept epoch (NaN when nothing is held out, never a training loss
    in its place), `train_loss` of the kept epoch, `history` (per epoch `train_loss`,
    `val_loss`), `epochs_run`, `n_train`, `n_val`. Raises when every epoch's loss was NaN.
    """
    import torch

    if not train:
        raise ManyshoresError(f"training {name}: no training examples")
    torch.manual_seed(config.seed)
    model = peft_copy(base.model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr)
    best = BestEpoch(config.patience, min_delta=MIN_DELTA)
    history: list[dict[str, float]] = []
    kept: dict[str, float] = {}
    steps = math.ceil(len(train) / batch_size)
    total, done = config.epochs * steps, 0
    order = list(train)
    for epoch in range(config.epochs):
        model.train()
        # Seeded per epoch: the order does not depend on how many epochs ran before.
        random.Random(config.seed * 1000 + epoch).shuffle(order)
        seen, summed = 0, 0.0
        for batch in _batches(order, batch_size):
            opt.zero_grad()
            batch_loss = loss(model, batch)
            batch_loss.backward()
            opt.step()
            summed += float(batch_loss.detach()) * len(batch)
            seen += len(batch)
            done += 1
            if progress:
                progress(done, total)
        model.eval()
        val_loss = mean_loss(model, val, loss, batch_size)
        epoch_stats = {"epoch": epoch + 1, "train_loss": summed / seen, "val_loss": val_loss}
        history.append(epoch_stats)
        # With nothing held out, the training loss picks the epoch.
        score = val_loss if val else epoch_stats["train_loss"]
        stop = best.update(score, lambda: adapter_weights(model))
        if best.stale == 0:  # this epoch is the new best
            kept = epoch_stats
        if stop:
            break
    if not best.weights:
        raise ManyshoresError(
            f"training {name} diverged (loss NaN in every epoch); try a lower learning rate"
        )
    metrics = {
        "val_loss": kept["val_loss"] if val else math.nan,
        "train_loss": kept["train_loss"],
        "history": history,
        "epochs_run": len(history),
        "n_train": len(train),
        "n_val": len(val),
    }
    return best.weights, metrics


def train_lora(
    base: BaseModel,
    examples: list[PromptExample],
    val_examples: list[PromptExample],
    config: LoraExpertConfig,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A survey LoRA expert: `fit_lora` with the survey loss, one example per step."""
    return fit_lora(base, examples, val_examples, survey_loss(base), config, 1, progress)
