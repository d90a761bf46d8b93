"""Culture and task detection: which culture(s) a conversation is about and what it asks for.

Public API::

    from manyshores.detection import CultureDetector, detect_task
    detector = CultureDetector.from_settings(settings)
    detector.detect(messages, explicit=None, profile=None, candidates=None, history=None)
    detect_task("Which is best? (A) tea (B) coffee")

See `manyshores.detection.detector` for the signals and the posterior.
"""

from __future__ import annotations

from manyshores.detection.detector import CultureDetector, SignalWeights
from manyshores.detection.task import detect_task, extract_options

__all__ = ["CultureDetector", "SignalWeights", "detect_task", "extract_options"]
