"""`bench engines`: which engines it compares and how the ratios are formed."""

from __future__ import annotations

import pytest

from manyshores.errors import ManyshoresError
from manyshores.serve.bench_engines import ENGINES, check_engines, throughput_ratios


def test_engines_are_checked_before_any_server_starts() -> None:
    assert check_engines(["vllm", "inprocess", "vllm"]) == ["vllm", "inprocess"]
    with pytest.raises(ManyshoresError, match="unknown engine 'gpu'"):
        check_engines(["gpu", "vllm"])
    with pytest.raises(ManyshoresError, match="at least one in-process"):
        check_engines(["vllm"])
    with pytest.raises(ManyshoresError, match="at least one in-process"):
        check_engines(["inprocess", "transformers"])


def test_the_transformers_engine_runs_every_model_call_in_process_on_transformers() -> None:
    assert ENGINES["transformers"]["MANYSHORES_TEXT_RUNTIME"] == "transformers"
    assert "MANYSHORES_TEXT_RUNTIME" not in ENGINES["inprocess"]
    assert {e["MANYSHORES_ENGINE"] for e in ENGINES.values()} == {"inprocess", "vllm"}


def test_ratios_divide_vllm_by_each_other_engine() -> None:
    row = {
        "inprocess": {"requests_per_s": 2.0},
        "transformers": {"requests_per_s": 0.5},
        "vllm": {"requests_per_s": 1.5},
    }
    assert throughput_ratios(row) == {"inprocess": 0.75, "transformers": 3.0}
    assert throughput_ratios({**row, "inprocess": {"requests_per_s": 0.0}})["inprocess"] is None
