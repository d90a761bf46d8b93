"""`manyshores bench kb`: ingest throughput and filtered query latency on a fresh embedded store.

Documents are the BLEnD passages when the data is there (the topic digests, then English and
local-language passages up to `n_docs`), topped up with generated statements to reach `n_docs`; queries are BLEnD questions
with their culture as the filter, so latency includes the embedding of the query, as in a turn
(`search_ms_p50` is the Chroma part alone).
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from manyshores.blend_files import blend_rows
from manyshores.config import Settings
from manyshores.memory.digests import DIGEST_KINDS
from manyshores.memory.embeddings import embed
from manyshores.memory.ingest import load_blend
from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.memory.passage_selection import query_text
from manyshores.passages import Document

_CULTURES = [
    "DZA",
    "IN-AS",
    "AZE",
    "CHN",
    "ETH",
    "GRC",
    "IDN",
    "IRN",
    "MEX",
    "PRK",
    "NGA",
    "KOR",
    "ESP",
    "GBR",
    "USA",
    "ID-JB",
]
_TOPICS = [
    "breakfast",
    "weddings",
    "school lunches",
    "holidays",
    "greetings",
    "sports",
    "music",
    "tea",
    "markets",
    "funerals",
    "birthdays",
    "public transport",
]


def synthetic_documents(n: int, seed: int = 0) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        c = rng.choice(_CULTURES)
        t = rng.choice(_TOPICS)
        docs.append(
            Document(
                f"Note {i} on {t} in {c}: people often mention item {rng.randint(0, 10**6)}.",
                c,
                f"synthetic#{i}",
                kind="text",
            )
        )
    return docs


def _queries(blend_dir: Path | None, n: int, seed: int = 1) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    if blend_dir is None:
        return [(f"What about {rng.choice(_TOPICS)}?", rng.choice(_CULTURES)) for _ in range(n)]
    rows = [(row["en_question"], row["culture"]) for row in blend_rows(blend_dir)]
    return rng.sample(rows, min(n, len(rows)))


def run_kb_bench(
    n_docs: int = 10_000, n_queries: int = 200, blend_dir: Path | None = None, threads: int = 1
) -> dict[str, Any]:
    """Ingest and query timings: wall clock, plus process CPU time (which a busy machine inflates
    far less). One torch thread by default: a single short query gains nothing from more, and
    extra threads spin against the other processes of a shared machine."""
    import torch

    torch.set_num_threads(threads)
    blend = list(load_blend(blend_dir)) if blend_dir else []
    # The topic digests first: they are few, and every query scores them in memory.
    digests = [d for d in blend if d.kind in DIGEST_KINDS]
    docs: list[Document] = (digests + [d for d in blend if d.kind not in DIGEST_KINDS])[:n_docs]
    docs += synthetic_documents(n_docs - len(docs))
    with tempfile.TemporaryDirectory(prefix="manyshores-bench-kb-") as tmp:
        kb = KnowledgeBase.open(Settings(home=Path(tmp)))
        kb.query("warm up", None, 1)  # load the embedder outside the timings
        start = time.perf_counter()
        report = kb.add(docs)
        ingest_s = time.perf_counter() - start
        start = time.perf_counter()
        again = kb.add(docs)
        reingest_s = time.perf_counter() - start
        lat: list[float] = []
        search: list[float] = []
        cpu: list[float] = []
        for text, culture in _queries(blend_dir, n_queries):
            c0 = time.process_time()
            t0 = time.perf_counter()
            vector = embed([query_text(text, {culture: 1.0})])[0]
            t1 = time.perf_counter()
            kb.query_vector(vector, {culture: 1.0}, 5)
            t2 = time.perf_counter()
            cpu.append((time.process_time() - c0) * 1000)
            lat.append((t2 - t0) * 1000)
            search.append((t2 - t1) * 1000)
        count = kb.count()
    lat.sort()
    return {
        "documents": count,
        "added": report.added,
        "ingest_seconds": round(ingest_s, 2),
        "ingest_docs_per_s": round(report.added / ingest_s, 1),
        "reingest_added": again.added,
        "reingest_seconds": round(reingest_s, 2),
        "queries": len(lat),
        "query_ms_p50": round(statistics.median(lat), 2),
        "query_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 2),
        "query_ms_mean": round(statistics.fmean(lat), 2),
        "query_cpu_ms_p50": round(statistics.median(cpu), 2),
        "search_ms_p50": round(statistics.median(search), 2),
        "embed_ms_p50": round(statistics.median(lat) - statistics.median(search), 2),
        "k": 5,
        "culture_filter": True,
        "torch_threads": threads,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        # Other processes on the machine inflate every timing; the load says how much.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
