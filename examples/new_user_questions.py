"""Questions a new user asks, through the default graph, printed as the person reads them.

    python examples/new_user_questions.py [--json OUT]

Each conversation is a new thread; follow-ups continue their thread. The README quotes this
output verbatim.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from manyshores.graph.assistant import CultureAssistant

FAMILY = (
    "How important is family in your life? Options: Very important, Rather important, "
    "Not very important, Not at all important"
)
RELIGION = (
    "How important is religion in your life? Options: Very important, Rather important, "
    "Not very important, Not at all important"
)

CONVERSATIONS: list[list[str]] = [
    [
        "Hi! I'm from Kenya. What do families usually eat for breakfast?",
        FAMILY,
        "¿Y en México, qué se come en Nochebuena?",
    ],
    ["What do people in Nigeria usually eat for breakfast?", "What about in Greece?"],
    ["¿Qué se come tradicionalmente en México el Día de Muertos?"],
    ["در ایران در نوروز چه غذایی می‌خورند؟"],
    ["Τι τρώνε οι Έλληνες το Πάσχα;"],
    ["한국에서는 설날에 무엇을 먹나요?"],
    ["What is a good way to spend a rainy Sunday afternoon?"],
    [f"I'm from Japan. {RELIGION}"],
    [f"I'm from the Netherlands. {FAMILY}"],
    [f"I'm from South Korea. {RELIGION}"],
]


def main() -> None:
    assistant = CultureAssistant()
    records = []
    for turns in CONVERSATIONS:
        thread = f"tour-{uuid.uuid4().hex[:8]}"
        for text in turns:
            start = time.perf_counter()
            result = assistant.invoke(text, thread_id=thread)
            seconds = time.perf_counter() - start
            data = result.to_json()
            cultures = ", ".join(f"{c['id']} {c['p']:.2f}" for c in data["cultures"][:2])
            print(f"> {text}")
            print(result.answer)
            print(f"  [{cultures or 'no culture'}; {data['task']}; {seconds:.1f} s]")
            for i, s in enumerate(data["sources"][:3], start=1):
                print(f"  [{i}] {s['ref']}: {s['snippet'][:80]}")
            print()
            records.append({"text": text, "seconds": round(seconds, 2), **data})
    if "--json" in sys.argv:
        path = sys.argv[sys.argv.index("--json") + 1]
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(records, fh, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
