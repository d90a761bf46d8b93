"""Culture and task detection: which culture(s) a conversation is about and what it asks for.

Public API::

    from manyshores.detection import CultureDetector, detect_task
    detector = CultureDetector.from_settings(settings)
    detector.detect(messages, explicit=None, profile=None, candidates=None, history=None)
    detect_task("Which is best? (A) tea (B) coffee")

See `manyshores.detection.detector` for the signals and the posterior.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manyshores.detection.detector import CultureDetector
    from manyshores.detection.task import detect_task, extract_options
    from manyshores.detection.weights import SignalWeights

# Imported on first use: the task rules import the graph's state (LangGraph, seconds), which the
# registry and language modules of this package do not need.
_LAZY = {
    "CultureDetector": "manyshores.detection.detector",
    "SignalWeights": "manyshores.detection.weights",
    "detect_task": "manyshores.detection.task",
    "extract_options": "manyshores.detection.task",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CultureDetector", "SignalWeights", "detect_task", "extract_options"]
