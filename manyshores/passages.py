"""What goes into the knowledge base (`Document`) and what comes out of retrieval (`Passage`).

Both sources of cultural context — the Chroma knowledge base and web search — return `Passage`s,
so the graph's `retrieve` node handles them the same way and turns them into the state's
`Source` entries with `Passage.to_source()`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from manyshores.state import Source, SourceKind

MAX_GROUP = 4
"""Most questions a grouped passage (several related BLEnD questions) may cover."""
SNIPPET_CHARS = 600
"""Length cap of a passage's text once it is in the graph state (and so in every checkpoint)."""


@dataclass(frozen=True)
class Document:
    """One retrievable piece of text before it is embedded and stored."""

    text: str
    """The passage itself, as it will be shown to the model."""
    culture: str
    """Culture id it describes (ISO 3166-1 alpha-3, or ISO 3166-2 for regions)."""
    source: str
    """Where it came from: a file path with an anchor, `blend:<file>#<qid>`, `wvs7:<qid>`."""
    kind: str = "text"
    """`text`, `markdown`, `jsonl`, `blend`, `blend-group`, `blend-digest`, `survey`."""
    lang: str = "en"
    """ISO 639-1 language of `text`."""
    question_id: str = ""
    """BLEnD / WVS question id, so an evaluation can leave its own question out."""
    group_ids: tuple[str, ...] = ()
    """Question ids a grouped passage covers (at most MAX_GROUP), stored as `g0`, `g1`, ...;
    leaving a question out also leaves out every group that contains it."""
    members: tuple[str, ...] = ()
    """Question ids a topic digest draws its answers from, stored as the array `members`;
    leaving a question out also leaves out every digest that contains its answers."""
    vector: tuple[float, ...] | None = field(default=None, repr=False, compare=False)
    """Index vector when the passage is indexed by something other than its own text (a digest
    is indexed by the centroid of the questions it answers); None embeds `text`."""

    @property
    def id(self) -> str:
        """Stable id from content and source: ingesting the same file twice adds nothing."""
        digest = hashlib.sha256(f"{self.source}\x00{self.text}".encode()).hexdigest()
        return digest[:32]

    def metadata(self) -> dict[str, str | list[str]]:
        # Chroma metadata cannot hold None; "" keeps `$nin` filters matching every document.
        return {
            "culture": self.culture,
            "source": self.source,
            "kind": self.kind,
            "lang": self.lang,
            "qid": self.question_id,
            **{f"g{i}": q for i, q in enumerate(self.group_ids[:MAX_GROUP])},
            **({"members": list(self.members)} if self.members else {}),
        }


@dataclass
class Passage:
    """A retrieved passage with where it came from and how well it matched."""

    id: str
    """Document id (memory) or a hash of the URL (web)."""
    text: str
    """The passage text (already sanitised for web results)."""
    culture: str | None
    """Culture the passage is about, when known."""
    source: str
    """File/dataset reference (memory) or URL (web)."""
    score: float
    """Similarity in [0, 1] for memory (weighted by the culture's posterior), Tavily's score for web."""
    origin: SourceKind = "memory"
    """`memory` (knowledge base) or `web` (Tavily)."""
    kind: str = "text"
    """Document kind (`blend`, `survey`, `text`, ...) or `web`."""
    lang: str = ""
    """ISO 639-1 language when known."""
    question_id: str = ""
    """BLEnD / WVS question id for dataset passages."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the backend returned (title of a web page, raw similarity)."""

    def to_source(self, max_chars: int = SNIPPET_CHARS) -> Source:
        """The state's `Source` entry: memory passages cite their id, web passages their URL."""
        text = self.text if len(self.text) <= max_chars else self.text[: max_chars - 1] + "…"
        return Source(
            kind=self.origin,
            ref=self.source if self.origin == "web" else self.id,
            snippet=text,
            culture=self.culture,
            score=round(float(self.score), 4),
        )

    def to_json(self) -> dict[str, Any]:
        """The `kb query --json` / `eval kb` shape."""
        return {
            "id": self.id,
            "culture": self.culture,
            "source": self.source,
            "text": self.text,
            "score": round(float(self.score), 4),
        }
