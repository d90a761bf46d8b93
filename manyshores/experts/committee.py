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

from manyshores.errors import InvalidInputError
from manyshores.experts.kinds import capabilities
from manyshores.experts.persona.model import PersonaExpert, culture_name
from manyshores.experts.types import ExpertInfo
from manyshores.runtime.chat_text import ChatModelText
from manyshores.runtime.scoring import (
    common_length,
    hidden_size,
    label_logprobs,
    label_token_ids,
    prompt_ids,
    run_prefix,
    run_virtual,
    survey_messages,
)
from manyshores.runtime.text import TextAnswer, TextRuntime, TransformersText, answer_text

if TYPE_CHECKING:
    import torch

    from manyshores.experts.registry import ExpertRegistry
    from manyshores.runtime.base_model import BaseModel
    from manyshores.state import ExpertAnswer, ExpertChoice

BASE_ID = "base"


def _concurrently(fn: Callable[[int], TextAnswer], items: list[int]) -> list[TextAnswer]:
    """`fn` on every item, on threads when there are several (requests to a remote model wait
    on the network, not on this process); each thread sees the caller's context (the turn's
    time budget)."""
    if len(items) == 1:
        return [fn(items[0])]
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, i) for i in items]
        return [f.result() for f in futures]


def expert_answer(
    choice: ExpertChoice,
    text: str,
    probs: list[float] | None,
    secs: float,
    *,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> ExpertAnswer:
    """The state's record of one expert's answer (token counts: see `runtime.usage`)."""
    answer: ExpertAnswer = {
        "expert_id": choice["id"],
        "culture": choice["culture"],
        "weight": choice["weight"],
        "text": text,
        "option_probs": probs,
        "seconds": secs,
    }
    if input_tokens is not None:
        answer["input_tokens"] = input_tokens
    if output_tokens is not None:
        answer["output_tokens"] = output_tokens
    return answer


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
        """Plain generation (a lone persona, streamed): the engine seam's text runtime."""

    def _expert(self, choice: ExpertChoice) -> Any:
        if choice["id"] == BASE_ID:
            return None
        assert self.registry is not None, "a registry is needed for expert ids other than `base`"
        return self.registry.get(choice["id"])

    def _persona(self, choice: ExpertChoice) -> PersonaExpert:
        """The persona of a choice (from the registry when there is one, with its config)."""
        if self.registry is not None:
            persona: PersonaExpert = self.registry.get(choice["id"])
            return persona
        return PersonaExpert(ExpertInfo(choice["id"], choice["culture"], "persona", ["*"]))

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
            if capabilities(c["kind"]).shares_prefix or c["id"] == BASE_ID
        ]
        prompt = prompt_ids(self.base, messages)
        full: dict[int, list[int]] = {}  # personas' own prompts (their culture named)
        with torch.no_grad():
            if shared:
                prefix = run_prefix(self.base, prompt)
                hidden = run_virtual(self.base, prefix, self._rows([choices[i] for i in shared]))
                for i, lp in zip(
                    shared, label_logprobs(self.base, hidden, labels).exp(), strict=True
                ):
                    probs[i] = lp.tolist()
            lora = [i for i, c in enumerate(choices) if capabilities(c["kind"]).on_lora_host]
            if lora:
                for i, p in zip(
                    lora,
                    self._lora_probs(messages, [choices[i] for i in lora], labels),
                    strict=True,
                ):
                    probs[i] = p
            personas = [i for i, c in enumerate(choices) if i not in probs]
            if personas:  # the culture is named after the question: reuse the question's cache
                shared_ids = prompt
                for i in personas:
                    line = self._persona(choices[i]).instruction()
                    full[i] = prompt_ids(
                        self.base, survey_messages(question, options, context, line)
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
                c,
                options[max(range(len(options)), key=probs[i].__getitem__)],
                probs[i],
                secs,
                input_tokens=len(full.get(i, prompt)),
                output_tokens=0,  # the options are scored in one forward pass: nothing generated
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
                caps = capabilities(c["kind"])
                if not (caps.shares_prefix or caps.on_lora_host):  # a persona: one whole pass
                    start = time.perf_counter()
                    line = self._persona(c).instruction()
                    msgs = survey_messages(question, options, context, line)
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
                if not caps.shares_prefix and c["id"] != BASE_ID:
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

        from manyshores.experts.lora.model import adapter_names

        assert self.registry is not None, "LoRA experts come from a registry"
        experts = [self._expert(c) for c in choices]
        model = self.registry.lora_host().ensure(experts)
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
        from manyshores.runtime.decoding import decode_rows
        from manyshores.runtime.generation import generate_batch
        from manyshores.runtime.usage import chat_prompt_tokens

        start = time.perf_counter()
        texts: dict[int, str] = {}
        prompt_tokens: dict[int, int] = {}
        generated: dict[int, int] = {}
        runtime: dict[int, str] = {}  # the text runtime that generated an answer, if not ours
        shared = [
            i
            for i, c in enumerate(choices)
            if capabilities(c["kind"]).shares_prefix or c["id"] == BASE_ID
        ]
        if shared:
            ids = prompt_ids(self.base, messages)
            prompt_tokens.update((i, len(ids)) for i in shared)
            prefix = run_prefix(self.base, ids)
            rows = self._rows([choices[i] for i in shared])
            counts: list[int] = []
            decoded = decode_rows(self.base, prefix, rows, max_new_tokens, ignore_eos, counts)
            for i, t, n in zip(shared, decoded, counts, strict=True):
                texts[i], generated[i] = t, n
        # Personas: one batch on the base model, each with its own system prompt; a lone persona
        # streams its words through the text runtime as they come.
        personas = [
            i
            for i, c in enumerate(choices)
            if i not in texts and not capabilities(c["kind"]).on_lora_host
        ]
        notes: dict[int, str] = {}  # why an answer ran on a fallback runtime
        lone = len(choices) == 1 and bool(personas) and on_token is not None
        if personas and (lone or isinstance(self.text, ChatModelText)):
            # A chat model writes every persona's answer (each its own request, sent together).
            def answer(i: int) -> TextAnswer:
                system = {"role": "system", "content": self._persona(choices[i]).system_prompt()}
                stream = on_token if lone else None
                return answer_text(self.text, [system, *messages], max_new_tokens, stream)

            for i, done in zip(personas, _concurrently(answer, personas), strict=True):
                texts[i], generated[i], runtime[i] = done.text, done.output_tokens, done.runtime
                prompt_tokens[i] = done.input_tokens
                if done.note:
                    notes[i] = done.note
            personas = []
        chats = [
            [{"role": "system", "content": self._persona(choices[i]).system_prompt()}, *messages]
            for i in personas
        ]
        persona_counts: list[int] = []
        replies = generate_batch(self.base, chats, max_new_tokens, counts=persona_counts)
        for i, chat, t, n in zip(personas, chats, replies, persona_counts, strict=True):
            texts[i], generated[i] = t.strip(), n
            prompt_tokens[i] = chat_prompt_tokens(self.base, chat, reserve=max_new_tokens)
        # LoRA: each through its adapter on the registry's one PEFT copy of the base.
        for i, c in enumerate(choices):
            if i not in texts:
                if self.registry is None:
                    raise InvalidInputError(f"expert {c['id']!r} needs a registry")
                model = self.registry.lora_host().activate(self._expert(c))
                one: list[int] = []
                [text] = generate_batch(
                    self.base, [messages], max_new_tokens, model=model, counts=one
                )
                texts[i], generated[i] = text.strip(), one[0]
                prompt_tokens[i] = chat_prompt_tokens(self.base, messages, reserve=max_new_tokens)
        secs = (time.perf_counter() - start) / max(1, len(choices))
        answers = [
            expert_answer(
                c,
                texts[i],
                None,
                secs,
                input_tokens=prompt_tokens[i],
                output_tokens=generated[i],
            )
            for i, c in enumerate(choices)
        ]
        for i, name in runtime.items():
            answers[i]["runtime"] = name
        for i, note in notes.items():
            answers[i]["note"] = note
        return answers

    def generate_solo(
        self,
        messages: list[dict[str, str]],
        choices: list[ExpertChoice],
        max_new_tokens: int = 96,
        ignore_eos: bool = False,
    ) -> list[ExpertAnswer]:
        """Each soft-prompt expert alone: its own prefix pass and its own decoding."""
        from manyshores.runtime.decoding import decode_rows

        out = []
        ids = prompt_ids(self.base, messages)
        for c in choices:
            start = time.perf_counter()
            prefix = run_prefix(self.base, ids)
            text = decode_rows(self.base, prefix, self._rows([c]), max_new_tokens, ignore_eos)[0]
            out.append(expert_answer(c, text, None, time.perf_counter() - start))
        return out
