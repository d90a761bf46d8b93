"""`bench turn` measures real turns: paths, phases, first token and rates (tiny model).

The phases and the prompt come from marks in the production code (`manyshores.timing`): the
benchmark patches nothing, so a turn run here measures what a user's turn runs."""

from __future__ import annotations

import pytest

from manyshores.eval.bench.turn import TurnSample, run_turn, summarise
from manyshores.eval.metrics.stats import percentile
from manyshores.timing import PhaseRecorder, phase, recording
from tests.graph_fixtures import tiny_assistant


def test_phase_records_only_while_a_recorder_listens():
    with phase("decode"):
        pass  # nobody listening: nothing to assert but that it runs
    recorder = PhaseRecorder()
    with recording(recorder):
        with phase("decode"):
            pass
        with phase("decode"):
            pass
    with phase("decode"):
        pass
    assert recorder.counts == {"decode": 2}
    assert recorder.seconds["decode"] >= 0.0


def _sample(wall: float, tokens: int = 0, decode: float = 0.0, path: str = "options"):
    return TurnSample(wall, wall / 2, tokens, decode, path, {"expert": wall * 1000}, {})


def test_summary_percentiles_rates_and_paths():
    samples = [_sample(w) for w in (1.0, 2.0, 3.0, 4.0)] + [_sample(10.0, 11, 2.0, "generation")]
    report = summarise(samples)
    assert report["p50_s"] == 3.0
    assert report["p95_s"] == 10.0 == percentile([s.wall_s for s in samples], 0.95)
    assert report["tokens_per_s"] == 5.0  # (11 - 1) tokens after the first in 2 s
    assert report["paths"] == {"options": 4, "generation": 1}
    assert report["nodes_ms"]["expert"] == 3000.0


@pytest.fixture()
def assistant(tiny_base, tmp_path):
    return tiny_assistant(tiny_base, tmp_path, max_new_tokens=8)


def test_generated_turn_reports_tokens_phases_and_prompt(assistant):
    sample = run_turn(assistant, "Explain how to fix a bicycle chain that keeps slipping.", "g")
    assert sample.path == "generation"
    assert 0 < sample.tokens <= 8
    assert 0 < sample.ttft_s <= sample.wall_s
    for name in ("tokenise", "prefill", "checkpoint", "retrieval", "embedding"):
        assert name in sample.phases_ms, name
    assert sample.prompt_ids and all(isinstance(t, int) for t in sample.prompt_ids)
    # The prompt is the chat the base model continued: it decodes back to the question.
    decoded = assistant.components.get_base().tokenizer.decode(sample.prompt_ids)
    assert "bicycle chain" in decoded
    assert set(sample.nodes_ms) >= {"detect", "retrieve", "route", "expert", "respond"}


def test_first_use_loading_is_a_phase(tiny_base, tmp_path):
    from manyshores.timing import PhaseRecorder, recording

    fresh = tiny_assistant(tiny_base, tmp_path, max_new_tokens=8)
    recorder = PhaseRecorder()
    with recording(recorder):
        fresh.components.get_retriever()  # built now, on first use
        fresh.components.get_retriever()  # a field read after that
    assert recorder.counts.get("load") == 1


def test_survey_turn_scores_options_without_generating(assistant):
    sample = run_turn(
        assistant,
        "I'm from Kenya. How important is family in your life? Options: Very important, "
        "Rather important, Not very important, Not at all important",
        "s",
    )
    assert sample.path == "options"
    assert sample.tokens == 0
    assert sample.ttft_s == sample.wall_s  # nothing streamed: the first token is the answer


@pytest.mark.slow
def test_bench_turn_report_has_the_keys_on_the_default_model(tmp_path):
    from manyshores.eval.bench.turn import run_turn_bench

    report = run_turn_bench(repeats=1, warmup=0, cold_runs=0, llama=False, out=tmp_path / "b.json")
    for kind in ("open", "survey", "followup", "general"):
        assert {"p50_s", "p95_s", "ttft_p50_s", "tokens_per_s"} <= set(report[kind])
        assert report[kind]["p50_s"] > 0
    assert report["survey"]["paths"] == {"options": 1}
    assert report["general"]["paths"] == {"generation": 1}
    assert report["general"]["tokens_per_s"] > 0
    assert report["llama_cpp"] is None and report["ratio_tokens_per_s"] is None
    assert isinstance(report["load"], float) and report["nodes_ms"]["expert"] > 0
    assert (tmp_path / "b.json").is_file()
