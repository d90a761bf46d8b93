"""Retrieval checks run against both Chroma backends (embedded and `chroma run` server)."""

from __future__ import annotations

from manyshores.memory.knowledge_base import KnowledgeBase
from manyshores.passages import Document

CORPUS = [
    Document(
        "In Kenya, families often drink chai with mandazi for breakfast.",
        "KEN",
        "t#1",
        question_id="q-breakfast",
    ),
    Document(
        "In Kenya, ugali with sukuma wiki is a common dinner.", "KEN", "t#2", question_id="q-dinner"
    ),
    Document(
        "In Japan, breakfast is often rice, miso soup and grilled fish.",
        "JPN",
        "t#3",
        question_id="q-breakfast",
    ),
    Document("In Japan, people bow when greeting each other.", "JPN", "t#4"),
    Document(
        "In Mexico, chilaquiles are a popular breakfast.", "MEX", "t#5", question_id="q-breakfast"
    ),
    Document("In Mexico, Day of the Dead is celebrated in early November.", "MEX", "t#6"),
    # A near-duplicate of t#1 from another source: retrieval must not return both.
    Document("In Kenya, families often drink chai with mandazi for breakfast!", "KEN", "t#7"),
    # A grouped passage covering two questions: leaving either out must leave it out.
    Document(
        "In Mexico, answers people gave to related questions: What is eaten for breakfast? "
        "chilaquiles, huevos rancheros. What is eaten for lunch? tacos.",
        "MEX",
        "t#8",
        kind="blend-group",
        group_ids=("q-breakfast", "q-lunch"),
    ),
]


def check_add_is_idempotent(kb: KnowledgeBase) -> None:
    first = kb.add(CORPUS)
    assert first.added == len(CORPUS)
    again = kb.add(CORPUS)
    assert again.added == 0 and again.skipped == len(CORPUS)
    assert kb.count() == len(CORPUS)


def check_culture_filter_and_sources(kb: KnowledgeBase) -> None:
    hits = kb.query("What do people eat for breakfast?", {"JPN": 1.0}, k=3)
    assert hits and all(p.culture == "JPN" for p in hits)
    assert "miso" in hits[0].text
    src = hits[0].to_source()
    assert src["kind"] == "memory" and src["ref"] == hits[0].id and src["culture"] == "JPN"
    assert hits[0].source == "t#3"


def check_weighting_and_dedup(kb: KnowledgeBase) -> None:
    hits = kb.query("What do people eat for breakfast?", {"KEN": 0.8, "MEX": 0.2}, k=4)
    assert {p.culture for p in hits} <= {"KEN", "MEX"}
    assert hits[0].culture == "KEN"
    assert any(p.culture == "MEX" for p in hits)  # the less likely culture still appears
    chai = [p for p in hits if "chai" in p.text]
    assert len(chai) == 1  # near-duplicate dropped
    scores = [p.score for p in hits]
    assert scores == sorted(scores, reverse=True)


def check_exclude_question_ids(kb: KnowledgeBase) -> None:
    hits = kb.query("breakfast", {"MEX": 1.0}, k=3)
    assert {p.source for p in hits} >= {"t#5", "t#8"}
    hits = kb.query("breakfast", {"MEX": 1.0}, k=3, exclude_question_ids={"q-breakfast"})
    assert hits and all(p.question_id != "q-breakfast" for p in hits)
    assert all(p.source not in ("t#5", "t#8") for p in hits)


def check_unknown_culture_searches_everything(kb: KnowledgeBase) -> None:
    hits = kb.query("greeting customs bow", None, k=2)
    assert hits[0].culture == "JPN"


def check_topic_digests(kb: KnowledgeBase) -> None:
    """A digest is found by its index vector even when specific passages are closer, takes the
    slots after the best specific passage, and leaving any of its questions out leaves it out."""
    from manyshores.memory.embeddings import embed

    specific = [
        Document(
            f"In Peru: What is eaten for {meal}? People from Peru answer: {dish}.",
            "PER",
            f"d#{i}",
            kind="blend",
            question_id=f"q-{meal}",
        )
        for i, (meal, dish) in enumerate(
            [("breakfast", "bread"), ("lunch", "ceviche"), ("dinner", "soup"), ("dessert", "flan")]
        )
    ]
    centre = embed(["What food do people eat at meals?"])[0]
    digest = Document(
        "In Peru, answers people gave to related questions: rice, potatoes, lomo saltado.",
        "PER",
        "d#digest",
        kind="blend-digest",
        members=("q-lunch", "q-snack"),
        vector=tuple(centre),
    )
    kb.add([*specific, digest])
    hits = kb.query("What is eaten for lunch in Peru?", {"PER": 1.0}, k=2)
    # the closest specific passage and the digest, best score first
    assert {h.source for h in hits} == {"d#1", "d#digest"}
    assert hits[0].score >= hits[1].score
    hits = kb.query("What is eaten for lunch?", {"PER": 1.0}, k=3, exclude_question_ids={"q-snack"})
    assert all(h.kind != "blend-digest" for h in hits) and len(hits) == 3


ALL_CHECKS = [
    check_add_is_idempotent,
    check_culture_filter_and_sources,
    check_weighting_and_dedup,
    check_exclude_question_ids,
    check_unknown_culture_searches_everything,
    check_topic_digests,
]
