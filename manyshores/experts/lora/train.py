"""Training a LoRA expert on survey answer distributions (soft-label cross-entropy).

LoRA changes every position, so unlike soft prompts the whole prompt runs with gradient each
step: expect it to be several times slower than a soft prompt on the same data.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from manyshores.experts.early_stopping import BestEpoch
from manyshores.experts.lora.config import LoraExpertConfig
from manyshores.experts.lora.model import adapter_weights, peft_copy
from manyshores.experts.scoring import label_token_ids, prompt_ids

if TYPE_CHECKING:
    import torch

    from manyshores.experts.base_model import BaseModel
    from manyshores.experts.softprompt.train import PromptExample


def _loss(model: Any, base: BaseModel, ex: PromptExample) -> torch.Tensor:
    import torch

    ids = prompt_ids(base, [{"role": r, "content": c} for r, c in ex.messages])
    out = model(input_ids=torch.tensor([ids], device=base.device), logits_to_keep=1)
    logp = torch.log_softmax(out.logits[0, -1, label_token_ids(base, ex.n_options)], dim=-1)
    return -(torch.tensor(ex.target, device=base.device) * logp).sum()


def train_lora(
    base: BaseModel,
    examples: list[PromptExample],
    val_examples: list[PromptExample],
    config: LoraExpertConfig,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train on a private PEFT copy of the base; returns (adapter weights, metrics)."""
    import torch

    torch.manual_seed(config.seed)
    model = peft_copy(base.model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr)
    best = BestEpoch(config.patience, min_delta=1e-4, weights=adapter_weights(model))
    history: list[dict[str, Any]] = []
    total, done = config.epochs * len(examples), 0
    for epoch in range(config.epochs):
        model.train()
        order = list(examples)
        random.Random(config.seed * 1000 + epoch).shuffle(order)
        losses = []
        for ex in order:
            opt.zero_grad()
            loss = _loss(model, base, ex)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            done += 1
            if progress:
                progress(done, total)
        model.eval()
        with torch.no_grad():
            val = [float(_loss(model, base, ex)) for ex in val_examples]
        val_loss = sum(val) / len(val) if val else math.nan
        train_loss = sum(losses) / len(losses)
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss})
        # With nothing held out, the training loss picks the epoch.
        if best.update(val_loss if val else train_loss, lambda: adapter_weights(model)):
            break
    val_best = best.loss if val_examples else math.nan
    return best.weights, {"val_loss": val_best, "history": history, "epochs_run": len(history)}
