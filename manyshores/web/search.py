"""Culture-aware web search through Tavily, with a cache, a timeout and bounded retries.

Build one per process and reuse it::

    web = WebSearcher.from_settings(settings)
    result = web.search("what do families eat for breakfast", culture="KEN")
    result.passages   # list[Passage] (origin "web", sanitised text, URL as source)
    result.note       # None, or why there are no / only cached results — put it in the trace

A search never raises for a network or service failure: 401/403, 429, 5xx, timeouts and refused
connections become `note` and an empty result, and nothing is cached from a failure. Without an
API key the search is skipped with a note. The key is only ever handed to `TavilyClient`; every
note is passed through `redact`, and the searcher's repr does not show it.
`get_search_context` is never called (it downloads a tokenizer).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from manyshores.config import Settings, get_settings
from manyshores.cultures import iso_name
from manyshores.passages import Passage
from manyshores.web.cache import CacheUnavailable, WebCache, cache_key
from manyshores.web.sanitize import sanitize_text

log = logging.getLogger(__name__)

BACKOFF_S = 0.25
"""First retry waits this long, then doubles (capped at 2 s): a 429 usually clears quickly."""

# Tavily's `country` takes lowercase English country names; a few differ from pycountry's.
_TAVILY_COUNTRY = {
    "KOR": "south korea",
    "PRK": "north korea",
    "GBR": "united kingdom",
    "USA": "united states",
    "IRN": "iran",
    "RUS": "russia",
    "VNM": "vietnam",
}


@dataclass
class WebResult:
    """What one web search gave: passages, and a note for the trace when something went wrong."""

    passages: list[Passage]
    """Sanitised results, best first (empty on failure or when skipped)."""
    note: str | None = None
    """Why there are no web results (skipped, rate limited, timed out, ...), or a cache warning."""
    cached: bool = False
    """True when the passages came from the SQLite cache."""


class _Transient(Exception):
    """A failure worth retrying (429, 5xx, timeout, connection refused)."""


class _Permanent(Exception):
    """A failure retrying cannot fix (401, 403, 400)."""


def tavily_country(culture: str) -> str | None:
    """Tavily `country` value for a culture id (regions map to their country)."""
    country = culture.split("-", 1)[0]
    if country in _TAVILY_COUNTRY:
        return _TAVILY_COUNTRY[country]
    try:
        import pycountry

        found = pycountry.countries.get(alpha_3=country) or pycountry.countries.get(alpha_2=country)
    except Exception:
        return None
    if found is None:
        return None
    return str(getattr(found, "common_name", None) or found.name).lower()


def culture_query(query: str, culture: str | None) -> str:
    """The query with the culture's place name added when the user did not name it."""
    if not culture:
        return query
    name = iso_name(culture)
    if "-" in culture:  # a region: name its country too ("Assam, India")
        country = iso_name(_alpha3(culture.split("-", 1)[0]))
        name = f"{name}, {country}" if country and country not in name else name
    if name.split(",")[0].lower() in query.lower():
        return query
    return f"{query} ({name})"


def _alpha3(alpha2: str) -> str:
    try:
        import pycountry

        found = pycountry.countries.get(alpha_2=alpha2)
        return str(found.alpha_3) if found else alpha2
    except Exception:
        return alpha2


@dataclass
class WebSearcher:
    """Tavily search with cache, timeout, retries and sanitising; see the module docstring."""

    api_key: SecretStr | None = field(repr=False)
    """Tavily key; None → every search is skipped with a note."""
    base_url: str = "https://api.tavily.com"
    """Tavily endpoint (tests use `manyshores.testing.tavily_server`)."""
    timeout_s: float = 4.0
    """Per-request timeout."""
    retries: int = 2
    """Extra attempts after the first for transient failures."""
    cache: WebCache | None = None
    """Successful results by request; None disables caching."""
    max_results: int = 5
    """Results requested per search."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    """Backoff sleep (tests may replace it)."""
    _client: Any = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WebSearcher:
        settings = settings or get_settings()
        return cls(
            api_key=settings.tavily_api_key,
            base_url=settings.tavily_base_url,
            timeout_s=settings.web_timeout_s,
            retries=settings.web_retries,
            cache=WebCache(settings.web_cache_path, settings.web_cache_ttl_s),
            max_results=max(settings.retrieval_k, 1),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.api_key and self.api_key.get_secret_value())

    def redact(self, text: str) -> str:
        """`text` with the API key (if any) blanked out."""
        if self.api_key:
            secret = self.api_key.get_secret_value()
            if secret:
                text = text.replace(secret, "***")
        return text

    def _get_client(self) -> Any:
        if self._client is None:
            from tavily import TavilyClient

            assert self.api_key is not None
            self._client = TavilyClient(
                api_key=self.api_key.get_secret_value(), api_base_url=self.base_url
            )
        return self._client

    def search(
        self, query: str, culture: str | None = None, *, max_results: int | None = None
    ) -> WebResult:
        """Search the web for `query` about `culture`; never raises for service failures."""
        if not self.enabled:
            return WebResult([], "web search skipped: no Tavily API key (set TAVILY_API_KEY)")
        n = max_results or self.max_results
        full_query = culture_query(query, culture)
        country = tavily_country(culture) if culture else None
        key = cache_key(q=full_query, country=country, n=n, url=self.base_url)
        cache_note: str | None = None
        if self.cache is not None:
            try:
                hit = self.cache.get(key)
            except CacheUnavailable:
                hit, cache_note = None, "web cache unavailable (locked?); searched without it"
            if hit is not None:
                return WebResult(self._passages(hit, culture), None, cached=True)
        try:
            results = self._search_with_retries(full_query, country, n)
        except (_Transient, _Permanent) as exc:
            note = self.redact(f"no web results: {exc}")
            log.info("%s", note)
            return WebResult([], note if not cache_note else f"{note}; {cache_note}")
        if self.cache is not None and cache_note is None:
            try:
                self.cache.put(key, results)
            except CacheUnavailable:
                cache_note = "web cache unavailable (locked?); result not cached"
        return WebResult(self._passages(results, culture), cache_note)

    def _search_with_retries(self, query: str, country: str | None, n: int) -> list[dict[str, Any]]:
        last: _Transient | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(BACKOFF_S * 2 ** (attempt - 1), 2.0))
            try:
                return self._search_once(query, country, n)
            except _Transient as exc:
                last = exc
        assert last is not None
        raise _Transient(f"{last} (after {self.retries + 1} attempts)")

    def _search_once(self, query: str, country: str | None, n: int) -> list[dict[str, Any]]:
        import requests
        from tavily import errors as terr

        kwargs: dict[str, Any] = {"max_results": n, "timeout": self.timeout_s}
        if country:
            kwargs.update(country=country, topic="general")  # `country` needs topic=general
        try:
            response = self._get_client().search(query, **kwargs)
        except terr.InvalidAPIKeyError:
            raise _Permanent("Tavily rejected the API key (401)") from None
        except terr.ForbiddenError:
            raise _Permanent("Tavily refused the request (403: plan or quota)") from None
        except terr.BadRequestError:
            raise _Permanent("Tavily rejected the request as malformed (400)") from None
        except terr.UsageLimitExceededError:
            raise _Transient("Tavily rate limit or usage limit (429)") from None
        except terr.TimeoutError:
            raise _Transient(f"Tavily timed out after {self.timeout_s:g}s") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500:
                raise _Transient(f"Tavily server error ({status})") from None
            raise _Permanent(f"Tavily HTTP error ({status})") from None
        except requests.Timeout:
            raise _Transient(f"Tavily timed out after {self.timeout_s:g}s") from None
        except requests.ConnectionError:
            raise _Transient(f"cannot connect to {self.base_url}") from None
        except Exception as exc:  # unknown: report its type only, never its text (may echo us)
            raise _Permanent(f"Tavily call failed ({type(exc).__name__})") from None
        results = response.get("results") if isinstance(response, dict) else None
        if not isinstance(results, list):
            raise _Permanent("Tavily returned an unexpected response")
        return [
            {
                "url": str(r.get("url", "")),
                "title": sanitize_text(str(r.get("title") or ""), 200),
                "content": sanitize_text(str(r.get("content") or "")),
                "score": float(r.get("score") or 0.0),
            }
            for r in results
            if isinstance(r, dict) and (r.get("content") or r.get("title"))
        ]

    def _passages(self, results: list[dict[str, Any]], culture: str | None) -> list[Passage]:
        return [
            Passage(
                id=hashlib.sha256(r["url"].encode()).hexdigest()[:16],
                text=sanitize_text(r["content"]) or r["title"],
                culture=culture,
                source=r["url"],
                score=float(r["score"]),
                origin="web",
                kind="web",
                extra={"title": r["title"]},
            )
            for r in results
        ]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.cache is not None:
            self.cache.close()
