"""`manyshores bench turn`: whole turns through the default graph on the default model.

Four kinds of turn, warm (one process, everything loaded) and cold (a new process, model already
converted, timed to its first token):

- `open`: an everyday-culture question (answered from evidence when there is some, else generated);
- `general`: a question with no cultural evidence, answered by generation (~60 new tokens);
- `survey`: a survey question with options (option scoring, no generation);
- `followup`: a second turn in the `open` question's thread.

Each turn reports its wall time, its time to the first streamed token (the whole turn when
nothing streams), generated tokens/s (decode rate after the first token), the path it took, the
time per node and per phase. The phases, and the prompt a generating turn decoded from, are
marked by the production code itself (`manyshores.timing`); the benchmark only listens. In the
same run, turn by turn, the same prompt tokens go through llama.cpp (`llama-cpp-python` on the
shipped GGUF) when it is installed, so the tokens/s ratio is measured side by side under the
same machine load.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manyshores.eval.metrics.stats import percentile

QUESTIONS = {
    "open": "I'm from Kenya. What do families usually eat for breakfast?",
    "general": "Explain in a few sentences how to fix a bicycle chain that keeps slipping.",
    "survey": "I'm from Kenya. How important is family in your life? Options: Very important, "
    "Rather important, Not very important, Not at all important",
    "followup": "And what do people usually eat for lunch there?",
}
KINDS = ("open", "general", "survey", "followup")
MAX_NEW_TOKENS = 60
"""About the length of a short spoken answer; the target rates are for ~60 new tokens."""


@dataclass
class TurnSample:
    """One measured turn."""

    wall_s: float
    """From the call to the last event of the turn."""
    ttft_s: float
    """To the first streamed token; the whole turn when nothing streamed."""
    tokens: int
    """New tokens generated in the turn (all experts)."""
    decode_s: float
    """Seconds of decoding after the first token."""
    path: str
    """`generation`, `options` (option scoring) or `composed` (no model text: evidence, refusal)."""
    nodes_ms: dict[str, float]
    """Per node of this turn, milliseconds (parallel experts: the slowest)."""
    phases_ms: dict[str, float]
    """Per phase (`manyshores.timing`), milliseconds."""
    prompt_ids: list[int] = field(default_factory=list)
    """The generating expert's prompt tokens, replayed through llama.cpp."""


def turn_path(values: dict[str, Any], tokens: int) -> str:
    """Which path a turn took, from its state: generated text, scored options, or neither."""
    if tokens > 0:
        return "generation"
    if any(a.get("option_probs") for a in values.get("expert_answers") or []):
        return "options"
    return "composed"


def _node_ms(values: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for record in values.get("steps", []):
        if record.get("turn") == values.get("turn"):
            name = record["node"]
            out[name] = max(out.get(name, 0.0), 1000 * float(record["seconds"]))
    return out


def run_turn(assistant: Any, text: str, thread_id: str) -> TurnSample:
    """One streamed turn, timed from the call to its first token and to its end."""
    from manyshores.timing import PhaseRecorder, recording

    recorder = PhaseRecorder()
    steps: list[str] = []
    first: float | None = None
    with recording(recorder):
        start = time.perf_counter()
        for event in assistant.stream(text, thread_id=thread_id):
            if event.node == "token" and first is None and event.update.get("text"):
                first = time.perf_counter()
            elif event.is_step:
                steps.append(event.node)
        wall = time.perf_counter() - start
        result = assistant.result(thread_id, steps)
    tokens = recorder.counts.get("generated", 0)
    phases = {k: round(1000 * v, 2) for k, v in recorder.seconds.items() if k != "generated"}
    # Retrieval as its own phase means the store and the web, without embedding the query.
    if "retrieval" in phases and "embedding" in phases:
        phases["retrieval"] = round(max(0.0, phases["retrieval"] - phases["embedding"]), 2)
    return TurnSample(
        wall_s=wall,
        ttft_s=(first - start) if first is not None else wall,
        tokens=tokens,
        decode_s=recorder.seconds.get("decode", 0.0),
        path=turn_path(result.values, tokens),
        nodes_ms=_node_ms(result.values),
        phases_ms=phases,
        prompt_ids=list(recorder.prompt_ids),
    )


def summarise(samples: list[TurnSample]) -> dict[str, Any]:
    """The issue's keys per kind of turn, plus paths, nodes and phases."""
    walls = [s.wall_s for s in samples]
    rates = [(s.tokens - 1) / s.decode_s for s in samples if s.tokens > 1 and s.decode_s > 0]
    paths: dict[str, int] = {}
    for s in samples:
        paths[s.path] = paths.get(s.path, 0) + 1
    names = {n for s in samples for n in s.nodes_ms}
    phases = {p for s in samples for p in s.phases_ms}
    return {
        "p50_s": round(statistics.median(walls), 3),
        "p95_s": round(percentile(walls, 0.95), 3),
        "ttft_p50_s": round(statistics.median(s.ttft_s for s in samples), 3),
        "tokens_per_s": round(statistics.median(rates), 2) if rates else None,
        "new_tokens_p50": statistics.median(s.tokens for s in samples),
        "paths": paths,
        "nodes_ms": {
            n: round(statistics.median(s.nodes_ms.get(n, 0.0) for s in samples), 2)
            for n in sorted(names)
        },
        "phases_ms": {
            p: round(statistics.median(s.phases_ms.get(p, 0.0) for s in samples), 2)
            for p in sorted(phases)
        },
        "wall_s_each": [round(w, 3) for w in walls],
    }


# ---- llama.cpp reference ------------------------------------------------------------------


def llama_reference(
    threads: int,
) -> tuple[Callable[[list[int], int], tuple[int, float]] | None, str]:
    """A function running prompt ids through llama.cpp -> (new tokens, decode seconds), or None
    with the reason it is not available.

    The reference is `llama-cpp-python` (a source build for this machine's CPU) when it is
    installed; otherwise llama.cpp through `cyllama`'s prebuilt wheel, driven by the plainest
    loop (a fresh sequence each time: no prefix reuse, no text decoding)."""
    from manyshores.runtime.base_model import default_gguf_path

    gguf = str(default_gguf_path())
    try:
        from llama_cpp import Llama
    except ImportError:
        return _cyllama_reference(gguf, threads)
    llm = Llama(
        model_path=gguf,
        n_ctx=4096,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )

    def run(prompt_ids: list[int], max_new: int) -> tuple[int, float]:
        llm.reset()
        first: float | None = None
        n = 0
        for _ in llm.generate(prompt_ids, temp=0.0, top_k=1, reset=True):
            now = time.perf_counter()
            if first is None:
                first = now
            n += 1
            if n >= max_new:
                break
        return n, (time.perf_counter() - first) if first is not None else 0.0

    return run, f"llama-cpp-python on {Path(gguf).name}, {threads} thread(s)"


def _cyllama_reference(
    gguf: str, threads: int
) -> tuple[Callable[[list[int], int], tuple[int, float]] | None, str]:
    try:
        from cyllama.llama import llama_cpp as cy
    except ImportError:
        return None, (
            "no llama.cpp binding is installed (`pip install -e '.[fast]'` for the prebuilt "
            "one, `pip install -e '.[llama]'` for a source build)"
        )
    cy.disable_logging()
    cy.llama_backend_init()
    model = cy.LlamaModel(gguf, cy.LlamaModelParams())
    params = cy.LlamaContextParams()
    params.n_ctx, params.n_batch = 4096, 512
    params.n_threads, params.n_threads_batch = threads, threads
    ctx = cy.LlamaContext(model, params)
    sampler = cy.LlamaSampler(cy.LlamaSamplerChainParams())
    sampler.add_greedy()

    def run(prompt_ids: list[int], max_new: int) -> tuple[int, float]:
        ctx.memory_seq_rm(-1, -1, -1)
        for i in range(0, len(prompt_ids), 512):
            ctx.decode(cy.llama_batch_get_one(prompt_ids[i : i + 512], i))
        pos, n, seconds = len(prompt_ids), 1, 0.0
        token = sampler.sample(ctx, -1)
        while n < max_new:
            # Timed as the runtime times its own decoding: the forward of each new token.
            start = time.perf_counter()
            ctx.decode(cy.llama_batch_get_one([token], pos))
            seconds += time.perf_counter() - start
            pos += 1
            token = sampler.sample(ctx, -1)
            n += 1
        return n, seconds

    return run, (
        f"llama.cpp through cyllama's prebuilt wheel on {Path(gguf).name}, {threads} thread(s) "
        "(llama-cpp-python is not installed)"
    )


def transformers_rate(base: Any, prompt_ids: list[int], tokens: int) -> float | None:
    """Decode tokens/s of the transformers loop on `prompt_ids` (same measure as the turns)."""
    from manyshores.runtime.generation import decode_stream
    from manyshores.timing import PhaseRecorder, recording

    recorder = PhaseRecorder()
    with recording(recorder):
        for _ in decode_stream(base, prompt_ids, tokens):
            pass
    n, secs = recorder.counts.get("generated", 0), recorder.seconds.get("decode", 0.0)
    return (n - 1) / secs if n > 1 and secs > 0 else None


# ---- cold start -----------------------------------------------------------------------------


def cold_child(text: str) -> None:
    """Run in a new process: one streamed turn; print seconds from process start to its first
    token (or its answer) and the turn's phases as one JSON line."""
    import psutil

    from manyshores.config import Settings
    from manyshores.timing import PhaseRecorder, recording

    born = psutil.Process().create_time()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            checkpoint_db=Path(tmp) / "cold.sqlite",
            tavily_api_key=None,
            max_new_tokens=MAX_NEW_TOKENS,
        )
        from manyshores.components import Components
        from manyshores.graph.warm import warm_up

        recorder = PhaseRecorder()
        with recording(recorder):
            components = Components(settings=settings)
            warm_up(components, text)  # as `ask` does
            from manyshores.graph.assistant import CultureAssistant

            assistant = CultureAssistant(components)
            first: float | None = None
            for event in assistant.stream(text, thread_id="cold"):
                if event.node == "token" and first is None:
                    first = time.time()
                    print(json.dumps({"first_token_s": first - born}), flush=True)
            end = time.time()
        print(
            json.dumps(
                {
                    "first_token_s": (first or end) - born,
                    "turn_end_s": end - born,
                    "phases_ms": {
                        k: round(1000 * v, 1)
                        for k, v in recorder.seconds.items()
                        if k != "generated"
                    },
                }
            ),
            flush=True,
        )


def run_cold(text: str) -> dict[str, Any]:
    """A new interpreter (same environment) answering `text`; its own report."""
    out = subprocess.run(
        [sys.executable, "-m", "manyshores.eval.bench.turn", "--cold", text],
        capture_output=True,
        text=True,
        check=False,
        cwd=os.getcwd(),
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:  # reported, so the warm figures are not lost
        return {"error": f"exit {out.returncode}: {out.stderr.strip()[-600:]}"}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


# ---- the benchmark ---------------------------------------------------------------------------


def run_turn_bench(
    repeats: int = 5,
    warmup: int = 1,
    cold_runs: int = 1,
    out: Path | None = None,
    llama: bool = True,
) -> dict[str, Any]:
    """Warm turns of every kind (`repeats` each, interleaved so load hits all alike), llama.cpp on
    the generating turns' prompts in between, then `cold_runs` new processes."""
    from manyshores.components import Components
    from manyshores.config import Settings
    from manyshores.graph.assistant import CultureAssistant

    load_samples = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        # Web search is left out: its time is the network's, not ours, and varies by the minute.
        settings = Settings(
            checkpoint_db=Path(tmp) / "bench.sqlite",
            tavily_api_key=None,
            max_new_tokens=MAX_NEW_TOKENS,
        )
        assistant = CultureAssistant(Components(settings=settings))
        from manyshores.threads import thread_count

        threads = thread_count(settings)  # what the model loads will use; llama.cpp too
        reference, llama_note = llama_reference(threads) if llama else (None, "not requested")
        backend: Any = assistant.components.get_experts()
        runtime = backend._part("committee").text.name
        base = assistant.components.get_base()
        for i in range(warmup):
            for kind in ("open", "general", "survey"):
                run_turn(assistant, QUESTIONS[kind], f"warm-{kind}-{i}")
        samples: dict[str, list[TurnSample]] = {k: [] for k in KINDS}
        llama_rates: list[float] = []
        ours_rates: list[float] = []
        transformers_rates: list[float] = []
        for i in range(repeats):
            for kind in KINDS:
                thread = f"{'open' if kind == 'followup' else kind}-{i}"
                sample = run_turn(assistant, QUESTIONS[kind], thread)
                samples[kind].append(sample)
                if sample.tokens > 1 and sample.decode_s > 0:
                    ours_rates.append((sample.tokens - 1) / sample.decode_s)
                    if reference is not None and sample.prompt_ids:
                        n, secs = reference(sample.prompt_ids, sample.tokens)
                        if n > 1 and secs > 0:
                            llama_rates.append((n - 1) / secs)
                    if runtime != "transformers" and sample.prompt_ids:
                        # The turn ran on another runtime: the same prompt on transformers too.
                        rate = transformers_rate(base, sample.prompt_ids, sample.tokens)
                        if rate:
                            transformers_rates.append(rate)
            load_samples.append(os.getloadavg()[0])
    cold = [run_cold(QUESTIONS["general"]) for _ in range(cold_runs)]
    load_samples.append(os.getloadavg()[0])
    cold_ok = [c for c in cold if "first_token_s" in c]
    kinds = {kind: summarise(samples[kind]) for kind in KINDS}
    every = [s for kind in KINDS for s in samples[kind]]
    ours = statistics.median(ours_rates) if ours_rates else None
    theirs = statistics.median(llama_rates) if llama_rates else None
    report: dict[str, Any] = {
        "benchmark": "turn",
        "base_model": settings.base_model,
        "threads": threads,
        "max_new_tokens": MAX_NEW_TOKENS,
        "repeats": repeats,
        **kinds,
        "cold_first_token_s": round(statistics.median(c["first_token_s"] for c in cold_ok), 2)
        if cold_ok
        else None,
        "cold": cold,
        "nodes_ms": summarise(every)["nodes_ms"],
        "phases_ms": summarise(every)["phases_ms"],
        "tokens_per_s": round(ours, 2) if ours else None,
        "text_runtime": runtime,
        "transformers_tokens_per_s": round(statistics.median(transformers_rates), 2)
        if transformers_rates
        else (round(ours, 2) if ours and runtime == "transformers" else None),
        "llama_cpp": {"tokens_per_s": round(theirs, 2), "runs": len(llama_rates)}
        if theirs
        else None,
        "llama_cpp_note": llama_note,
        "ratio_tokens_per_s": round(ours / theirs, 3) if ours and theirs else None,
        "load": round(load_samples[0], 2),
        "load_samples": [round(x, 2) for x in load_samples],
        "questions": QUESTIONS,
        "web": "skipped: web search time is the network's",
    }
    if out:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--cold":
        cold_child(sys.argv[2])
    else:
        raise SystemExit("usage: python -m manyshores.eval.bench.turn --cold QUESTION")
