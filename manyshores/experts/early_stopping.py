"""Keep the best epoch's weights and stop after `patience` epochs without improvement."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass
class BestEpoch:
    """Early stopping on a held-out loss: the one rule of every trainer (LoRA, soft prompts)."""

    patience: int
    """Epochs without a better loss before `update` says stop."""
    min_delta: float = 0.0
    """How much lower a loss must be to count as better."""
    loss: float = math.inf
    """Best loss so far."""
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    """Weights of the best epoch so far."""
    stale: int = 0
    """Epochs since the best one."""

    def update(self, loss: float, snapshot: Callable[[], dict[str, torch.Tensor]]) -> bool:
        """Record an epoch's loss; True when training should stop.

        A NaN loss (training diverged) never counts as better. `snapshot` is called only for
        a new best, to copy the weights then."""
        if loss < self.loss - self.min_delta:
            self.loss, self.stale, self.weights = loss, 0, snapshot()
            return False
        self.stale += 1
        return self.stale >= self.patience
