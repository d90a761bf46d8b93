"""Usage: python examples/blend_pages_server.py BLEND_TRAIN_DIR [PAGES_PER_QUERY] [URL_FILE]

Local Tavily-compatible server whose pages are built from blend_train rows only (no leak).

Each planned query (manyshores.synthesis.plan) of each culture gets pages of that culture's
train rows on the query's topic (keyword match on the English question); the English query gets
English pages, the local-language query the next slice of the topic's rows, in the local language.
"""
import json, sys, time
from pathlib import Path
from manyshores.memory.ingest import blend_files
from manyshores.synthesis.plan import plan_queries
from manyshores.testing.tavily_server import TavilyTestServer

KEYS = {
    "food": "food eat dish snack drink breakfast lunch dinner fruit meat cook ingredient dessert restaurant cafeteria spice soup bread sauce vegetable alcohol tea coffee meal".split(),
    "sports": "sport athlete team player football soccer game olympic exercise commentator ball gym".split(),
    "family": "family parent child kid mother father wedding marr baby grand sibling home house pet".split(),
    "education": "school university student teacher exam class education college study degree subject".split(),
    "holidays": "holiday festival celebrat year christmas birthday gift religious vacation tradition".split(),
    "work life": "work job office company salary retire employ hour career commute business".split(),
}
train = Path(sys.argv[1]); per = int(sys.argv[2]) if len(sys.argv) > 2 else 10
results = {}
for path in blend_files(train):
    rows = [r for r in json.loads(path.read_text()) if r.get("annotations")]
    if not rows:
        continue
    culture, name = rows[0]["culture"], rows[0]["blend_name"].replace("_", " ")
    def page(r, local):
        anns = sorted(r["annotations"], key=lambda a: -a["count"])
        key = "answers" if local else "en_answers"
        ans = [a[key][0] for a in anns[:3] if a.get(key)]
        q = r["question"] if local else r["en_question"]
        text = (f'{q} — {"; ".join(ans)}.' if local else
                f'In {name}, when asked "{q}" most people answered {ans[0]}; others said {", ".join(ans[1:]) or ans[0]}.')
        return {"title": q, "url": f"https://pages.example.org/{culture}/{r['id']}{'/local' if local else ''}",
                "content": text, "score": 0.8, "raw_content": None}
    for q in plan_queries(culture, "everyday_qa"):
        topical = [r for r in rows if any(k in r["en_question"].lower() for k in KEYS.get(q.topic, []))]
        local = q.lang != "en"
        chunk = topical[per:2 * per] if local else topical[:per]
        results[q.text] = [page(r, local) for r in chunk if r["annotations"][0].get("answers" if local else "en_answers")]
srv = TavilyTestServer(results=results).start()
Path(sys.argv[3] if len(sys.argv) > 3 else "pages_url").write_text(srv.url)
print(srv.url, len(results), sum(len(v) for v in results.values()), flush=True)
while True:
    time.sleep(3600)
