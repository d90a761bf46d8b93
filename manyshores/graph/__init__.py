"""Assembling the culture state machine and the `CultureAssistant` facade.

from manyshores.graph import CultureAssistant, CultureChatModel, compile_graph
"""

from __future__ import annotations

from manyshores.components import Components
from manyshores.graph.assistant import CultureAssistant, StepEvent, TurnResult
from manyshores.graph.builder import build_graph, compile_graph
from manyshores.graph.chat_model import CultureChatModel

__all__ = [
    "Components",
    "CultureAssistant",
    "CultureChatModel",
    "StepEvent",
    "TurnResult",
    "build_graph",
    "compile_graph",
]
