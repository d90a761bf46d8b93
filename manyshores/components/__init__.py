"""The heavy collaborators of the graph, built once per process and handed to the nodes.

Nodes receive a `Components` object when the graph is built (closures, see
`manyshores.graph.builder`) rather than through a per-call runtime context: the compiled graph
must stay a self-contained Runnable so it can be embedded in an LCEL chain or as a subgraph whose
host knows nothing about us. Nodes import only this package and `manyshores.state`; the defaults
(`defaults.py`) are imported lazily, so importing it loads no model library.
Every collaborator is created lazily on first use, so a turn that needs no web search never
builds a web client, and `manyshores trace` never loads a model.
"""

from manyshores.components.container import Components, mixes_in_one_batch
from manyshores.components.protocols import (
    Detector,
    EvidenceSource,
    ExpertBackend,
    ProfileStore,
    Retriever,
)

__all__ = [
    "Components",
    "Detector",
    "EvidenceSource",
    "ExpertBackend",
    "ProfileStore",
    "Retriever",
    "mixes_in_one_batch",
]
