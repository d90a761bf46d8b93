"""Loading a local model without transformers' per-tensor progress bar.

Our models load from disk in about a second; the bar ("Loading weights 272/272") only cluttered
every command's output, including those run with `--no-progress`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_loading_bar() -> Iterator[None]:
    """Turn transformers' progress bars off inside the block (restored after)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
