"""Left-padded batches of token rows: the one way rows of different lengths share a forward.

Left padding puts every row's last token at the last position, so generation continues all rows
at once and a loss on the answer tokens reads the same final positions of every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

IGNORE = -100
"""Label of a position that takes no part in the loss (torch's cross-entropy default)."""


@dataclass
class Batch:
    """Rows padded on the left to one width."""

    ids: torch.Tensor
    """[rows, width] token ids, `pad` before each row."""
    mask: torch.Tensor
    """[rows, width] 1 on real tokens, 0 on padding."""
    labels: torch.Tensor | None = None
    """[rows, width] targets aligned with `ids` (IGNORE on padding), when labels were given."""

    @property
    def width(self) -> int:
        return int(self.ids.shape[1])

    def positions(self) -> torch.Tensor:
        """Position ids as if each row were unpadded (what a model sees for one row alone)."""
        return (self.mask.cumsum(-1) - 1).clamp(min=0)


def pad_id(tokenizer: object) -> int:
    """The tokenizer's pad token, else its end-of-sequence token."""
    pad = getattr(tokenizer, "pad_token_id", None)
    return int(pad if pad is not None else getattr(tokenizer, "eos_token_id", 0) or 0)


def left_pad(
    rows: Sequence[Sequence[int]],
    pad: int,
    labels: Sequence[Sequence[int]] | None = None,
) -> Batch:
    """One left-padded batch of `rows` (and of their `labels`, right-aligned the same way)."""
    import torch

    if not rows:
        raise ValueError("no rows to batch")
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    out_labels = None
    if labels is not None:
        out_labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.as_tensor(list(row), dtype=torch.long)
        mask[i, width - len(row) :] = 1
        if out_labels is not None and labels is not None:
            y = labels[i]
            out_labels[i, width - len(y) :] = torch.as_tensor(list(y), dtype=torch.long)
    return Batch(ids, mask, out_labels)
