"""The per-turn summary of a trace, from step records alone."""

from __future__ import annotations

from manyshores.graph.trace import TraceStep, shorten, summarize_turns


def _step(index: int, turn: int, node: str, wrote: dict, read: dict | None = None) -> TraceStep:
    return TraceStep(index, turn, node, 0.01 * (index + 1), read or {}, wrote, "ck", None)


def test_summary_reads_each_node_and_tolerates_newer_or_missing_fields():
    steps = [
        # turn 1: the records the graph writes today
        _step(
            0,
            1,
            "detect",
            {
                "text": "What do we eat at Easter?",
                "posterior": {
                    "cultures": [
                        {"id": "GRC", "p": 0.7},
                        {"id": "CYP", "p": 0.2},
                        {"id": "ITA", "p": 0.01},
                    ],
                    "ambiguous": True,
                },
            },
        ),
        _step(
            1,
            1,
            "retrieve",
            {
                "sources": [{"kind": "memory", "ref": "kb:12", "score": 0.83}],
                "notes": ["web search skipped"],
            },
        ),
        _step(
            2,
            1,
            "route",
            {"experts": [{"id": "wvs-GRC", "weight": 0.75}, {"id": "wvs-CYP", "weight": 0.25}]},
        ),
        _step(3, 1, "expert", {"expert_answers": [{"expert_id": "wvs-GRC", "text": "lamb"}]}),
        _step(4, 1, "expert", {"expert_answers": [{"expert_id": "wvs-CYP", "text": "lamb"}]}),
        _step(5, 1, "aggregate", {"answer": "Roast lamb."}),
        _step(6, 1, "respond", {"messages": [{"type": "ai", "content": "Roast lamb, eggs."}]}),
        # turn 2: newer fields (query, evidence, short), no route record, message only read
        _step(7, 2, "detect", {"query": "And at Christmas?", "posterior": {"cultures": []}}),
        _step(
            8,
            2,
            "retrieve",
            {
                "sources": [{"url": "https://example.org/x", "score": 1}],
                "evidence": [
                    {
                        "culture": "GRC",
                        "usable": True,
                        "candidates": [{"text": "bread", "score": 0.5}],
                    },
                    {"culture": "CYP", "usable": False},
                ],
            },
        ),
        _step(9, 2, "respond", {"short": "Christopsomo bread."}),
        # turn 3: nothing written at all but the message it read
        _step(10, 3, "detect", {}, read={"messages": [{"type": "human", "content": "hi"}]}),
    ]
    one, two, three = summarize_turns(steps)
    assert one.message == "What do we eat at Easter?"
    assert one.cultures == [("GRC", 0.7), ("CYP", 0.2)]  # ITA under the listing threshold
    assert one.flags == ["ambiguous"]
    assert one.experts == [("wvs-GRC", 0.75), ("wvs-CYP", 0.25)]
    assert one.answer == "Roast lamb."
    assert one.sources == ["memory kb:12 (0.83)"]
    assert one.notes == ["web search skipped"]
    assert [n for _, n, _ in one.nodes] == [
        "detect",
        "retrieve",
        "route",
        "expert",
        "expert",
        "aggregate",
        "respond",
    ]
    assert two.message == "And at Christmas?" and two.cultures == []
    assert two.answer == "Christopsomo bread." and two.sources == [
        "https://example.org/x (1.00)",
        "evidence GRC: bread (0.50)",
        "evidence CYP: none close enough",
    ]
    assert two.experts == [] and two.nodes[0] == (7, "detect", 0.08)
    assert three.message == "hi" and three.answer == "" and three.task is None


def test_shorten_collapses_whitespace_and_cuts():
    assert shorten("a  b\nc", 10) == "a b c"
    cut = shorten("word " * 50, 20)
    assert len(cut) <= 20 and cut.endswith("…")


def test_a_follow_up_shows_what_was_typed_and_the_question_it_was_read_as():
    steps = [
        _step(0, 1, "detect", {"text": "What about in Greece?", "query": "Breakfast? In Greece?"}),
        _step(
            1,
            2,
            "detect",
            {"text": "What do we eat at Easter?", "query": "What do we eat at Easter?"},
        ),
    ]
    follow_up, alone = summarize_turns(steps)
    assert follow_up.message == "What about in Greece?"
    assert follow_up.read_as == "Breakfast? In Greece?"
    assert alone.read_as is None  # read as typed: nothing more to show
