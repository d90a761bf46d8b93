"""Training soft prompts on survey answer distributions, several prompts at once.

The virtual tokens sit after the shared prefix (instructions + question + options), so the
prefix never depends on the prompt: it runs once per question without gradient, and every
culture's prompt for that question is one row of a single batched pass over the virtual tokens.
Prompts are separate parameters and AdamW is element-wise, so training 16 cultures together is
the same as training each alone; only the wall-clock time is shared.

Objective: soft-label cross-entropy between the human answer shares and the model's distribution
over the option letters (equal to KL up to a constant), not only the majority answer.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.experts.early_stopping import BestEpoch
from manyshores.experts.softprompt.config import SoftPromptConfig
from manyshores.runtime.scoring import (
    label_logprobs,
    label_token_ids,
    prompt_ids,
    run_prefix,
    run_virtual,
)
from manyshores.survey.decision import PROB_FLOOR

if TYPE_CHECKING:
    import torch

    from manyshores.runtime.base_model import BaseModel

log = logging.getLogger(__name__)


@dataclass
class PromptExample:
    """One training row: which prompt it trains, its prompt text and the target distribution."""

    slot: int
    """Index of the soft prompt this row trains."""
    messages: tuple[tuple[str, str], ...]
    """(role, content) pairs up to the answer; rows with equal messages share one prefix pass."""
    n_options: int
    """Number of options (letters) scored."""
    target: tuple[float, ...]
    """Human answer shares."""
    qid: str = ""
    """Question id, for reporting."""
    suffix: str = ""
    """Text after the virtual tokens (the joint expert names the culture there, so that all
    cultures still share the question's prefix)."""
    prior: tuple[float, ...] | None = None
    """A distribution the expert's answer is multiplied with during training (product of
    experts), e.g. survey memory's: the expert then learns what the prior misses."""


PRIOR_EPS = PROB_FLOOR
"""Added to a prior before its log (the floor of `survey.decision.product_with_memory`)."""
MIN_DELTA = 1e-4
"""How much lower a prompt's validation loss must be to count as better."""


@dataclass
class TrainResult:
    """Trained prompts and their learning curves."""

    prompts: list[torch.Tensor]
    """Best (by validation loss) prompt per slot, [num_virtual_tokens, hidden]."""
    val_loss: list[float]
    """Best validation loss per slot (nan without validation rows)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """Per epoch: mean train and validation loss."""
    epochs_run: int = 0
    """Epochs actually run (early stopping may cut them)."""


def init_prompt(base: BaseModel, config: SoftPromptConfig) -> torch.Tensor:
    """Initial virtual tokens: embeddings of `init_text`, cycled to the configured length."""
    import torch

    ids = base.tokenizer.encode(config.init_text, add_special_tokens=False) or [0]
    ids = (ids * math.ceil(config.num_virtual_tokens / len(ids)))[: config.num_virtual_tokens]
    emb: Any = base.model.get_input_embeddings().weight
    return emb[torch.tensor(ids, device=base.device)].detach().clone()


def _groups(examples: list[PromptExample]) -> list[list[PromptExample]]:
    by_prefix: dict[tuple[tuple[str, str], ...], list[PromptExample]] = {}
    for ex in examples:
        by_prefix.setdefault(ex.messages, []).append(ex)
    return list(by_prefix.values())


def _suffix_ids(base: BaseModel, text: str) -> list[int]:
    return list(base.tokenizer.encode(text, add_special_tokens=False))


def _group_loss(base: BaseModel, group: list[PromptExample], params: torch.Tensor) -> torch.Tensor:
    import torch

    msgs = [{"role": r, "content": c} for r, c in group[0].messages]
    prefix = run_prefix(base, prompt_ids(base, msgs))
    rows = [params[ex.slot] for ex in group]
    if any(ex.suffix for ex in group):
        embed = base.model.get_input_embeddings()
        rows = [
            torch.cat([r, embed(torch.tensor(_suffix_ids(base, ex.suffix), device=base.device))])
            if ex.suffix
            else r
            for r, ex in zip(rows, group, strict=True)
        ]
    hidden = run_virtual(base, prefix, rows)
    logp = label_logprobs(base, hidden, label_token_ids(base, group[0].n_options))
    if any(ex.prior is not None for ex in group):
        n = group[0].n_options
        prior = torch.tensor(
            [ex.prior if ex.prior is not None else [1.0 / n] * n for ex in group],
            dtype=logp.dtype,
            device=logp.device,
        )
        logp = torch.log_softmax(logp + torch.log(prior + PRIOR_EPS), dim=-1)
    target = torch.tensor([ex.target for ex in group], dtype=logp.dtype, device=logp.device)
    return -(target * logp).sum(-1)  # per row


def train_prompts(
    base: BaseModel,
    examples: list[PromptExample],
    val_examples: list[PromptExample],
    n_slots: int,
    config: SoftPromptConfig,
    progress: Callable[[int, int], None] | None = None,
    state_path: Path | None = None,
    on_epoch: Callable[[TrainResult], None] | None = None,
) -> TrainResult:
    """Train `n_slots` soft prompts; `progress(done, total)` is called after each step.

    With `state_path`, the full training state is saved there (safetensors + JSON) after every
    epoch and picked up again by a later call, so a killed run resumes at its last epoch.
    `on_epoch` sees the best prompts so far after each epoch (e.g. to publish them).
    """
    import torch

    torch.manual_seed(config.seed)
    init = init_prompt(base, config)
    params = torch.nn.Parameter(init.unsqueeze(0).repeat(n_slots, 1, 1))
    opt = torch.optim.AdamW([params], lr=config.lr, weight_decay=config.weight_decay)
    groups, val_groups = _groups(examples), _groups(val_examples)
    # One early-stopping rule per prompt; training stops when none of them improves any more.
    bests = [
        BestEpoch(config.patience, MIN_DELTA, weights={"prompt": params[i].detach().clone()})
        for i in range(n_slots)
    ]
    result = TrainResult(prompts=_prompts(bests), val_loss=[math.nan] * n_slots)
    total, start = config.epochs * len(groups), 0
    if state_path is not None and state_path.with_suffix(".json").is_file():
        start = _load_state(state_path, params, opt, bests, result)
    done = start * len(groups)
    for epoch in range(start, config.epochs):
        if start and all(b.stale >= b.patience for b in bests):
            break  # a resumed run that had already stopped
        # Seeded per epoch so that a resumed run sees the same order as an uninterrupted one.
        random.Random(config.seed * 1000 + epoch).shuffle(groups)
        losses: list[float] = []
        per_slot: list[list[float]] = [[] for _ in range(n_slots)]
        for group in groups:
            opt.zero_grad()
            rows = _group_loss(base, group, params)
            rows.sum().backward()
            opt.step()
            for ex, loss in zip(group, rows.detach().tolist(), strict=True):
                per_slot[ex.slot].append(loss)
            losses.extend(rows.detach().tolist())
            done += 1
            if progress:
                progress(done, total)
        val = _evaluate(base, val_groups, params, n_slots)
        stops = []
        for i, best in enumerate(bests):
            # With nothing held out, the slot's training loss picks its epoch.
            score = val[i] if val_groups else sum(per_slot[i]) / max(1, len(per_slot[i]))
            stops.append(best.update(score, _snapshot(params, i)))
        mean_val = sum(v for v in val if not math.isnan(v)) / max(
            1, sum(not math.isnan(v) for v in val)
        )
        result.history.append(
            {"epoch": epoch + 1, "train_loss": sum(losses) / len(losses), "val_loss": mean_val}
        )
        result.epochs_run = epoch + 1
        log.info(
            "epoch %d train %.4f val %.4f", epoch + 1, result.history[-1]["train_loss"], mean_val
        )
        result.prompts, result.val_loss = _prompts(bests), _val_losses(bests, val_groups)
        if state_path is not None:
            _save_state(state_path, params, opt, bests, result)
        if on_epoch:
            on_epoch(result)
        if all(stops):
            break
    result.prompts, result.val_loss = _prompts(bests), _val_losses(bests, val_groups)
    return result


def _snapshot(params: torch.Tensor, slot: int) -> Callable[[], dict[str, torch.Tensor]]:
    return lambda: {"prompt": params[slot].detach().clone()}


def _prompts(bests: list[BestEpoch]) -> list[torch.Tensor]:
    return [b.weights["prompt"] for b in bests]


def _val_losses(bests: list[BestEpoch], val_groups: list[Any]) -> list[float]:
    """The kept epochs' validation losses (NaN without validation rows: no training loss is
    reported as one)."""
    return [b.loss if val_groups else math.nan for b in bests]


def _save_state(path: Path, params, opt, bests: list[BestEpoch], result: TrainResult) -> None:
    import torch
    from safetensors.torch import save_file

    st = opt.state[params]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "params": params.detach(),
            "best": torch.stack(_prompts(bests)),
            "exp_avg": st["exp_avg"],
            "exp_avg_sq": st["exp_avg_sq"],
        },
        str(path),
    )
    meta = {
        "epoch": result.epochs_run,
        "step": float(st["step"]),
        "stale": [b.stale for b in bests],
        "best_loss": [b.loss for b in bests],
        "history": result.history,
    }
    path.with_suffix(".json").write_text(json.dumps(meta))


def _load_state(path: Path, params, opt, bests: list[BestEpoch], result: TrainResult) -> int:
    """Restore a saved run; returns the epochs it had run (0: a state of another configuration,
    start afresh)."""
    import torch
    from safetensors.torch import load_file

    meta = json.loads(path.with_suffix(".json").read_text())
    t = load_file(str(path))
    if t["params"].shape != params.shape:
        return 0
    with torch.no_grad():
        params.copy_(t["params"])
    opt.state[params] = {
        "step": torch.tensor(meta["step"]),
        "exp_avg": t["exp_avg"],
        "exp_avg_sq": t["exp_avg_sq"],
    }
    stale = meta["stale"]
    stale = stale if isinstance(stale, list) else [stale] * len(bests)  # older states: one count
    for best, prompt, loss, n in zip(
        bests, t["best"].unbind(0), meta["best_loss"], stale, strict=True
    ):
        best.weights, best.loss, best.stale = {"prompt": prompt}, float(loss), int(n)
    result.history, result.epochs_run = meta["history"], meta["epoch"]
    log.info("resumed training after epoch %d", meta["epoch"])
    return int(meta["epoch"])


def _evaluate(
    base: BaseModel, groups: list[list[PromptExample]], params: torch.Tensor, n_slots: int
) -> list[float]:
    import torch

    sums, counts = [0.0] * n_slots, [0] * n_slots
    with torch.no_grad():
        for group in groups:
            rows = _group_loss(base, group, params)
            for ex, loss in zip(group, rows.tolist(), strict=True):
                sums[ex.slot] += loss
                counts[ex.slot] += 1
    return [s / c if c else math.nan for s, c in zip(sums, counts, strict=True)]


def train_expert_prompt(
    base: BaseModel,
    examples: list[PromptExample],
    val_examples: list[PromptExample],
    config: SoftPromptConfig,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """One culture's soft prompt (the kind's `Trainer`): (tensors to store, metrics)."""
    result = train_prompts(base, examples, val_examples, 1, config, progress=progress)
    metrics = {
        "val_loss": result.val_loss[0],
        "history": result.history,
        "epochs_run": result.epochs_run,
    }
    return {"prompt": result.prompts[0]}, metrics
