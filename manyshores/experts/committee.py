"""Running several experts on one question far cheaper than one by one.

Soft-prompt experts put their virtual tokens after the shared prefix (instructions, retrieved
context, question, options), so the prefix runs once and its KV cache is reused by every expert:
each expert adds only its virtual tokens (+ the answer tokens when generating). LoRA experts
change every position, so they share nothing but the batch: one PEFT mixed-adapter batch
(`adapter_names=`). Personas change the prefix and run on their own.

API for graph nodes:
    committee = Committee(base, registry)
    committee.score_options(question, options, context, choices) -> list[ExpertAnswer]
    committee.generate(messages, choices, max_new_tokens) -> list[ExpertAnswer]
The `*_solo` methods run each expert alone with no sharing (benchmarks, equivalence tests).
The choice id `base` means the bare base model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from manyshores.experts.engine import TextRuntime, TransformersText, stream_with
from manyshores.experts.persona.model import culture_name
from manyshores.experts.scoring import (
    common_length,
    hidden_size,
    label_logprobs,
    label_token_ids,
    prompt_ids,
    run_prefix,
    run_virtual,
    survey_messages,
)

if TYPE_CHECKING:
    import torch

    from manyshores.experts.base_model import BaseModel
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.state import ExpertAnswer, ExpertChoice

BASE_ID = "base"


def expert_answer(
    choice: ExpertChoice, text: str, probs: list[float] | None, secs: float
) -> ExpertAnswer:
    """The state's record of one expert's answer."""
    return {
        "expert_id": choice["id"],
        "culture": choice["culture"],
        "weight": choice["weight"],
        "text": text,
        "option_probs": probs,
        "seconds": secs,
    }


class Committee:
    """Experts of one registry over one base model."""

    def __init__(
        self,
        base: BaseModel,
        registry: ExpertRegistry | None = None,
        text: TextRuntime | None = None,
    ) -> None:
        self.base = base
        self.registry = registry
        self.text: TextRuntime = text or TransformersText(base)
        """Plain generation (personas): the engine seam's text runtime."""
        self._lora_host: Any = None

    def _expert(self, choice: ExpertChoice) -> Any:
        if choice["id"] == BASE_ID:
            return None
        assert self.registry is not None, "a registry is needed for expert ids other than `base`"
        return self.registry.get(choice["id"])

    def _rows(self, choices: list[ExpertChoice]) -> list[torch.Tensor]:
        """Per choice, the embeddings appended after the prefix (empty for the base)."""
        import torch

        hidden = hidden_size(self.base)
        rows = []
        for c in choices:
            ex = self._expert(c)
            if ex is None:
                rows.append(torch.zeros(0, hidden, device=self.base.device))
            else:
                rows.append(ex.embeddings(self.base, culture_name(c["culture"])))
        return rows

    # ---- options -------------------------------------------------------------------------

    def score_options(
        self,
        question: str,
        options: list[str],
        context: str | None,
        choices: list[ExpertChoice],
    ) -> list[ExpertAnswer]:
        """Each chosen expert's distribution over `options`, sharing all that can be shared."""
        import torch

        start = time.perf_counter()
        labels = label_token_ids(self.base, len(options))
        messages = survey_messages(question, options, context)
        probs: dict[int, list[float]] = {}
        shared = [
            i
            for i, c in enumerate(choices)
            if c["kind"] in ("softprompt", "base") or c["id"] == BASE_ID
        ]
        with torch.no_grad():
            if shared:
                prefix = run_prefix(self.base, prompt_ids(self.base, messages))
                hidden = run_virtual(self.base, prefix, self._rows([choices[i] for i in shared]))
                for i, lp in zip(
                    shared, label_logprobs(self.base, hidden, labels).exp(), strict=True
                ):
                    probs[i] = lp.tolist()
            lora = [i for i, c in enumerate(choices) if c["kind"] == "lora"]
            if lora:
                for i, p in zip(
                    lora,
                    self._lora_probs(messages, [choices[i] for i in lora], labels),
                    strict=True,
                ):
                    probs[i] = p
            personas = [i for i, c in enumerate(choices) if i not in probs]
            if personas:  # the culture is named after the question: reuse the question's cache
                shared_ids = prompt_ids(self.base, messages)
                full = {}
                for i in personas:
                    name = culture_name(choices[i]["culture"])
                    full[i] = prompt_ids(
                        self.base, survey_messages(question, options, context, name)
                    )
                keep = min(common_length(shared_ids, ids) for ids in full.values())
                keep = min(keep, min(len(ids) for ids in full.values()) - 1)
                base_prefix = run_prefix(self.base, shared_ids[:keep])
                embed = self.base.model.get_input_embeddings()
                rows = [
                    embed(torch.tensor(full[i][keep:], device=self.base.device)) for i in personas
                ]
                hidden = run_virtual(self.base, base_prefix, rows)
                for i, lp in zip(
                    personas, label_logprobs(self.base, hidden, labels).exp(), strict=True
                ):
                    probs[i] = lp.tolist()
        # One batched pass serves all: each answer carries an equal share of the wall time.
        secs = (time.perf_counter() - start) / max(1, len(choices))
        return [
            expert_answer(
                c, options[max(range(len(options)), key=probs[i].__getitem__)], probs[i], secs
            )
            for i, c in enumerate(choices)
        ]

    def score_options_solo(
        self, question: str, options: list[str], context: str | None, choices: list[ExpertChoice]
    ) -> list[ExpertAnswer]:
        """Each expert alone: its whole input (prefix + virtual tokens) in its own forward."""
        import torch

        labels = label_token_ids(self.base, len(options))
        ids = prompt_ids(self.base, survey_messages(question, options, context))
        out = []
        with torch.no_grad():
            for c in choices:
                if c["kind"] == "persona":  # its whole prompt, culture named, in one pass
                    start = time.perf_counter()
                    msgs = survey_messages(question, options, context, culture_name(c["culture"]))
                    pre = run_prefix(self.base, prompt_ids(self.base, msgs))
                    p = label_logprobs(self.base, pre.last_hidden, labels).exp().tolist()
                    out.append(
                        expert_answer(
                            c,
                            options[max(range(len(p)), key=p.__getitem__)],
                            p,
                            time.perf_counter() - start,
                        )
                    )
                    continue
                if c["kind"] not in ("softprompt", "base") and c["id"] != BASE_ID:
                    out.extend(self.score_options(question, options, context, [c]))
                    continue
                start = time.perf_counter()
                row = self._rows([c])[0]
                emb = self.base.model.get_input_embeddings()(
                    torch.tensor([ids], device=self.base.device)
                )
                full = torch.cat([emb, row.unsqueeze(0)], dim=1)
                hidden = self.base.model.model(inputs_embeds=full).last_hidden_state[0, -1]
                p = label_logprobs(self.base, hidden, labels).exp().tolist()
                out.append(
                    expert_answer(
                        c,
                        options[max(range(len(p)), key=p.__getitem__)],
                        p,
                        time.perf_counter() - start,
                    )
                )
        return out

    def _lora_probs(
        self, messages: list[dict[str, str]], choices: list[ExpertChoice], labels: list[int]
    ) -> list[list[float]]:
        import torch

        from manyshores.experts.lora.model import LoraHost, adapter_names

        experts = [self._expert(c) for c in choices]
        if self._lora_host is None:
            self._lora_host = LoraHost(self.base)
        model = self._lora_host.ensure(experts)
        ids = torch.tensor(
            [prompt_ids(self.base, messages)] * len(experts), device=self.base.device
        )
        out = model(input_ids=ids, adapter_names=adapter_names(experts), logits_to_keep=1)
        logp = torch.log_softmax(out.logits[:, -1, labels], dim=-1)
        return [row.exp().tolist() for row in logp]

    # ---- free text -----------------------------------------------------------------------

    def generate(
        self,
        messages: list[dict[str, str]],
        choices: list[ExpertChoice],
        max_new_tokens: int = 96,
        ignore_eos: bool = False,
        on_token: Callable[[str], None] | None = None,
    ) -> list[ExpertAnswer]:
        """Each expert's greedy answer; soft-prompt experts decode together on one shared prefix.

        `on_token` receives the text of a lone persona as it is generated (streaming)."""
        from manyshores.experts.decoding import decode_rows
        from manyshores.experts.generation import generate_text

        start = time.perf_counter()
        texts: dict[int, str] = {}
        shared = [
            i for i, c in enumerate(choices) if c["kind"] == "softprompt" or c["id"] == BASE_ID
        ]
        if shared:
            prefix = run_prefix(self.base, prompt_ids(self.base, messages))
            rows = self._rows([choices[i] for i in shared])
            decoded = decode_rows(self.base, prefix, rows, max_new_tokens, ignore_eos)
            for i, t in zip(shared, decoded, strict=True):
                texts[i] = t
        for i, c in enumerate(choices):
            if i not in texts:  # personas (and LoRA, which generates through its PEFT copy)
                ex = self._expert(c)
                if c["kind"] == "persona":
                    msgs = [{"role": "system", "content": ex.system_prompt()}, *messages]
                    stream = on_token if len(choices) == 1 else None
                    texts[i] = stream_with(self.text, msgs, max_new_tokens, stream)
                else:
                    texts[i] = generate_text(self.base, messages, max_new_tokens=max_new_tokens)
        secs = (time.perf_counter() - start) / max(1, len(choices))
        return [expert_answer(c, texts[i], None, secs) for i, c in enumerate(choices)]

    def generate_solo(
        self,
        messages: list[dict[str, str]],
        choices: list[ExpertChoice],
        max_new_tokens: int = 96,
        ignore_eos: bool = False,
    ) -> list[ExpertAnswer]:
        """Each soft-prompt expert alone: its own prefix pass and its own decoding."""
        from manyshores.experts.decoding import decode_rows

        out = []
        ids = prompt_ids(self.base, messages)
        for c in choices:
            start = time.perf_counter()
            prefix = run_prefix(self.base, ids)
            text = decode_rows(self.base, prefix, self._rows([c]), max_new_tokens, ignore_eos)[0]
            out.append(expert_answer(c, text, None, time.perf_counter() - start))
        return out
