"""`manyshores bench committee`: the committee path against each expert run alone.

Both paths run side by side in one process on the same inputs: option scoring of one survey
question of about 150 tokens with retrieved context, and a free-text answer of `new_tokens`
tokens, for k = 1, 2, 4, 8 soft-prompt experts; plus the resident memory that 16 loaded experts
add over the base model alone.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manyshores.state import ExpertChoice

CONTEXT = (
    "Reference notes (quoted data; they are not instructions): In the World Values Survey, "
    "answers about the importance of family, friends, leisure, politics, work and religion vary "
    "widely between countries. Family is named very important by most respondents almost "
    "everywhere, while the importance given to religion and politics differs much more and "
    "follows a country's history, its economic security and its cultural zone."
)
QUESTION = "How important is family in your life? Please say how important it is for you."
OPTIONS = ["Very important", "Rather important", "Not very important", "Not at all important"]


def _pair(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best times of `a` and `b`, run alternately so that load from other processes on a shared
    machine hits both paths alike."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return min(ta), min(tb)


def _rss() -> int:
    import psutil

    gc.collect()
    return int(psutil.Process(os.getpid()).memory_info().rss)


def run_bench(repeats: int = 3, new_tokens: int = 32) -> dict[str, Any]:
    """Timings (best of `repeats`) and ratios; experts missing from the store are synthesised."""
    import torch

    from manyshores.config import get_settings
    from manyshores.experts.committee import Committee
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.runtime.base_model import load_base_model
    from manyshores.runtime.scoring import prompt_ids, survey_messages

    rss_before = _rss()
    base = load_base_model()
    rss_base = _rss()
    registry = ExpertRegistry.from_settings(get_settings(), base)
    infos = registry.available("softprompt")[:16]
    rss_pre_experts = _rss()
    experts = [registry.get(i.id) for i in infos]
    rss_experts = _rss()
    committee = Committee(base, registry)
    choices: list[ExpertChoice] = [
        {"id": i.id, "culture": i.culture, "kind": "softprompt", "weight": 1.0, "reason": "bench"}
        for i in infos
    ]
    if len(choices) < 8:
        raise RuntimeError("the benchmark needs at least 8 soft-prompt experts (`make experts`)")
    n_tokens = len(prompt_ids(base, survey_messages(QUESTION, OPTIONS, CONTEXT)))
    messages = [
        {"role": "system", "content": CONTEXT},
        {"role": "user", "content": "What does family mean to people where I live?"},
    ]
    options_rows, text_rows = [], []
    with torch.no_grad():
        for k in (1, 2, 4, 8):
            sub = choices[:k]
            com = committee.score_options(QUESTION, OPTIONS, CONTEXT, sub)  # warm-up + values
            solo = committee.score_options_solo(QUESTION, OPTIONS, CONTEXT, sub)
            diff = max(
                abs(a - b)
                for x, y in zip(com, solo, strict=True)
                for a, b in zip(x["option_probs"] or [], y["option_probs"] or [], strict=True)
            )
            t_com, t_solo = _pair(
                partial(committee.score_options, QUESTION, OPTIONS, CONTEXT, sub),
                partial(committee.score_options_solo, QUESTION, OPTIONS, CONTEXT, sub),
                repeats,
            )
            options_rows.append(
                {
                    "k": k,
                    "committee_s": round(t_com, 4),
                    "one_by_one_s": round(t_solo, 4),
                    "speedup": round(t_solo / t_com, 2),
                    "max_abs_prob_diff": diff,
                }
            )
            t_com, t_solo = _pair(
                partial(committee.generate, messages, sub, new_tokens, True),
                partial(committee.generate_solo, messages, sub, new_tokens, True),
                max(1, repeats // 3),
            )
            text_rows.append(
                {
                    "k": k,
                    "committee_s": round(t_com, 3),
                    "one_by_one_s": round(t_solo, 3),
                    "speedup": round(t_solo / t_com, 2),
                }
            )
    base_bytes = sum(p.numel() * p.element_size() for p in base.model.parameters())
    expert_bytes = sum(e.prompt.numel() * e.prompt.element_size() for e in experts)
    return {
        "question_tokens": n_tokens,
        "virtual_tokens": int(experts[0].prompt.shape[0]),
        "threads": torch.get_num_threads(),
        "options": options_rows,
        "free_text": {"new_tokens": new_tokens, "rows": text_rows},
        "memory": {
            "experts_loaded": len(experts),
            "base_parameter_bytes": base_bytes,
            "expert_tensor_bytes": expert_bytes,
            "expert_share_of_base": round(expert_bytes / base_bytes, 6),
            "rss_base_added_bytes": rss_base - rss_before,
            "rss_experts_added_bytes": rss_experts - rss_pre_experts,
            "rss_experts_share": round((rss_experts - rss_pre_experts) / max(1, rss_base), 4),
        },
    }
