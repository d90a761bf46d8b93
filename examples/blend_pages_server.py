"""Usage: python examples/blend_pages_server.py BLEND_TRAIN_DIR [PAGES_PER_QUERY] [URL_FILE]

Local Tavily-compatible server whose pages are built from blend_train rows only (no leak).

Each planned query (manyshores.synthesis.plan) of each culture gets pages of that culture's
train rows on the query's topic (keyword match on the English question); the English query gets
English pages, the local-language query the next slice of the topic's rows, in the local language.
"""

import json
import sys
import time
from pathlib import Path

from manyshores.memory.ingest import blend_files
from manyshores.synthesis.plan import plan_queries
from manyshores.testing.blend_pages import blend_page
from manyshores.testing.tavily_server import TavilyTestServer

TOPIC_WORDS = {
    "food": "food eat dish snack drink breakfast lunch dinner fruit meat cook ingredient dessert "
    "restaurant cafeteria spice soup bread sauce vegetable alcohol tea coffee meal",
    "sports": "sport athlete team player football soccer game olympic exercise commentator ball gym",
    "family": "family parent child kid mother father wedding marr baby grand sibling home house pet",
    "education": "school university student teacher exam class education college study degree "
    "subject",
    "holidays": "holiday festival celebrat year christmas birthday gift religious vacation tradition",
    "work life": "work job office company salary retire employ hour career commute business",
}


def culture_results(rows: list[dict], per_query: int) -> dict[str, list[dict]]:
    """Search results for each query planned for the rows' culture."""
    culture, place = rows[0]["culture"], rows[0]["blend_name"].replace("_", " ")
    results = {}
    for query in plan_queries(culture, "everyday_qa"):
        words = TOPIC_WORDS.get(query.topic, "").split()
        topical = [r for r in rows if any(w in r["en_question"].lower() for w in words)]
        local = query.lang != "en"
        chunk = topical[per_query : 2 * per_query] if local else topical[:per_query]
        key = "answers" if local else "en_answers"
        results[query.text] = [
            blend_page(
                r,
                place,
                local=local,
                n_answers=3,
                url=f"https://pages.example.org/{culture}/{r['id']}{'/local' if local else ''}",
            )
            for r in chunk
            if r["annotations"][0].get(key)
        ]
    return results


def main() -> None:
    train = Path(sys.argv[1])
    per_query = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    results: dict[str, list[dict]] = {}
    for path in blend_files(train):
        rows = [r for r in json.loads(path.read_text()) if r.get("annotations")]
        if rows:
            results.update(culture_results(rows, per_query))
    server = TavilyTestServer(results=results).start()
    Path(sys.argv[3] if len(sys.argv) > 3 else "pages_url").write_text(server.url)
    print(server.url, len(results), sum(len(v) for v in results.values()), flush=True)
    while True:  # serve until interrupted
        time.sleep(3600)


if __name__ == "__main__":
    main()
