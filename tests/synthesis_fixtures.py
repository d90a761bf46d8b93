"""Fakes for the synthesis tests: Tavily pages built from real BLEnD rows, a scripted teacher."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from manyshores.config import Settings
from manyshores.synthesis.ground import PassageSources
from manyshores.testing.blend_pages import blend_page
from manyshores.testing.tavily_server import TavilyTestServer
from manyshores.web.search import WebSearcher

TOPIC_KEYS = [
    ("food", "comida"),
    ("sports", "deportes"),
    ("family", "familia"),
    ("education", "escuela"),
    ("holidays", "fiestas"),
    ("work life", "vida laboral"),
]
_PAGE_RE = re.compile(r'asked "(?P<q>[^"]+)" most people answered (?P<a>[^;.]+)')


def mexico_rows(test_data: Path) -> list[dict[str, Any]]:
    rows = json.loads((test_data / "blend" / "Mexico.json").read_text(encoding="utf-8"))
    return [r for r in rows if r["annotations"] and r["annotations"][0]["en_answers"]]


def blend_results(test_data: Path, per_query: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Search results per topic keyword (English and Spanish): pages from Mexican BLEnD rows.

    The Spanish list of each topic starts with a mirror of the English list's first page (same
    text, another URL), so the same question comes back (the duplicate check must catch it).
    """
    rows = mexico_rows(test_data)
    results: dict[str, list[dict[str, Any]]] = {}
    i = 0
    for en, es in TOPIC_KEYS:
        results[en] = [blend_page(r, "Mexico") for r in rows[i : i + per_query]]
        results[es] = [{**results[en][0], "url": results[en][0]["url"] + "?mirror"}] + [
            blend_page(r, "Mexico") for r in rows[i + per_query : i + 2 * per_query - 1]
        ]
        i += 2 * per_query
    return results


class ScriptedTeacherModel(BaseChatModel):
    """Reads the passage in the request and writes a short-answer example from it.

    For questions whose length is a multiple of `hallucinate_every` it answers something the
    passage does not say (a fixed choice, so a resumed run meets the same failures).
    """

    hallucinate_every: int = 0
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted-teacher"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        match = _PAGE_RE.search(str(messages[-1].content))
        if match is None:
            text = "I cannot help with that."
        else:
            answer = match["a"].strip()
            if self.hallucinate_every and len(match["q"]) % self.hallucinate_every == 0:
                answer = "pizza hut"
            text = (
                "```json\n"
                + json.dumps(
                    {
                        "question": match["q"],
                        "answer": answer,
                        "evidence": match.group(0),
                    }
                )
                + "\n```"
            )
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def web_sources(server: TavilyTestServer, home: Path, k: int = 3) -> PassageSources:
    """Passage sources searching the local Tavily server through the real client."""
    # A generous timeout: these tests check grounding and provenance, and on a loaded machine a
    # local page can take seconds to arrive (timeouts are tested in test_web.py).
    settings = Settings(
        home=home, tavily_api_key="tvly-test", tavily_base_url=server.url, web_timeout_s=60.0
    )
    return PassageSources(web=WebSearcher.from_settings(settings), k=k)
