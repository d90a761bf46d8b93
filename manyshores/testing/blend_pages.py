"""Web pages made from BLEnD rows, for the local Tavily-compatible server (tests, measurements).

A page states a question's most common human answers, so synthesis from it can be checked for
grounding and its URL names the BLEnD row it came from (`experts.task_adapters.source_question_ids`).
"""

from __future__ import annotations

from typing import Any


def blend_page(
    row: dict[str, Any],
    place: str,
    *,
    local: bool = False,
    n_answers: int = 2,
    url: str | None = None,
) -> dict[str, Any]:
    """A Tavily result stating the row's `n_answers` most common answers.

    English: `In <place>, when asked "<question>" most people answered <first>; others said
    <the rest>.` Local (`local=True`): the local-language question and answers, `<q> — a; b.`"""
    key = "answers" if local else "en_answers"
    anns = sorted(row["annotations"], key=lambda a: -a["count"])
    answers = [a[key][0] for a in anns[:n_answers] if a.get(key)]
    question = row["question"] if local else row["en_question"]
    if local:
        content = f"{question} — {'; '.join(answers)}."
    else:
        others = ", ".join(answers[1:]) or answers[0]
        content = (
            f'In {place}, when asked "{question}" most people answered {answers[0]}; '
            f"others said {others}."
        )
    return {
        "title": question,
        "url": url or f"https://pages.example.org/{row['id']}",
        "content": content,
        "score": 0.8,
        "raw_content": None,
    }
