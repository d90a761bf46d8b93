"""llama.cpp as the plain-generation runtime: the shipped GGUF through `cyllama`'s prebuilt wheel.

Why llama.cpp: on the default 135M model one thread decodes ~4.5x faster than the float32
transformers loop (the quantised weights are a sixth of the bytes each token reads; see
`docs/speed.md`). Why `cyllama`: it ships prebuilt CPU wheels on PyPI (glibc 2.17+), so the
set-up installs it in seconds; `llama-cpp-python` only ships a source build (~10 min or more on
two cores).

Only plain generation runs here: a chat with no soft prompt and no adapter (personas, the bare
base model). Soft prompts, adapters and option scoring stay on transformers, which is exact.

The prompt is the GGUF's own chat template rendered the way transformers renders it (a
sandboxed Jinja environment that trims blocks) and tokenised by llama.cpp's vocabulary: for the
default model the token ids equal the transformers tokenizer's (`tests/test_llamacpp.py`), so no
transformers import or model load stands between a cold start and its first token.

KV cache reuse: sequence 0 is where every generation runs; up to `slots` finished sequences
(system prompts, finished exchanges) are kept as other sequences of one unified cache, sharing
their cells with sequence 0, so a new prompt starts from the longest start it shares with any of
them and only runs the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from manyshores.errors import ModelLoadError
from manyshores.runtime.greedy import greedy_stream
from manyshores.timing import note_prompt, phase

INSTALL_HINT = "`pip install -e '.[fast]'` (a prebuilt wheel: seconds)"


def available() -> bool:
    """Whether the llama.cpp binding is installed (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("cyllama") is not None


@dataclass
class _Slot:
    """One kept sequence of the KV cache."""

    seq: int
    """Its llama.cpp sequence id (1..slots; 0 is the working sequence)."""
    tokens: list[int] = field(default_factory=list)
    """The tokens whose keys and values it holds, from position 0."""
    used: float = 0.0
    """When it was last the start of a prompt (least recently used is replaced first)."""


def common_prefix(a: list[int], b: list[int], limit: int) -> int:
    """Length of the common start of `a` and `b`, at most `limit`."""
    n = 0
    for x, y in zip(a, b[:limit], strict=False):
        if x != y:
            break
        n += 1
    return n


def render_chat(template: str, messages: list[dict[str, str]], bos: str, eos: str) -> str:
    """A chat rendered by a Jinja chat template as transformers' `apply_chat_template` renders it
    (same environment options and globals, generation prompt added)."""
    from datetime import datetime

    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos
    )


class LlamaCppText:
    """Greedy plain generation on a GGUF file through llama.cpp (one generation at a time)."""

    name = "llama_cpp"

    def __init__(self, gguf: str, threads: int, n_ctx: int = 4096, slots: int = 6) -> None:
        try:
            from cyllama.llama import llama_cpp as cy
        except ImportError as exc:
            raise ModelLoadError(
                f"MANYSHORES_TEXT_RUNTIME=llama_cpp needs the llama.cpp binding: {INSTALL_HINT}"
            ) from exc
        self._cy = cy
        with phase("load"):
            cy.disable_logging()  # llama.cpp logs every tensor it loads on stderr otherwise
            cy.llama_backend_init()
            try:
                self.model = cy.LlamaModel(gguf, cy.LlamaModelParams())
            except Exception as exc:
                raise ModelLoadError(f"llama.cpp cannot load {gguf}: {exc!s:.200}") from exc
            params = cy.LlamaContextParams()
            params.n_ctx = n_ctx
            params.n_batch = 512
            params.n_threads = threads
            params.n_threads_batch = threads
            params.n_seq_max = slots + 1
            # One cell pool for every sequence: a kept sequence and sequence 0 share the cells
            # of their common start, so copying a start between them costs nothing.
            params.kv_unified = True
            self.ctx = cy.LlamaContext(self.model, params)
            self.vocab = self.model.get_vocab()
            sampler = cy.LlamaSampler(cy.LlamaSamplerChainParams())
            sampler.add_greedy()
            self.sampler = sampler
        self.gguf = gguf
        self.threads = threads
        self.n_ctx = n_ctx
        self.template = _template(self.model)
        self._bos = self.vocab.token_to_piece(self.vocab.token_bos(), special=True)
        self._eos = self.vocab.token_to_piece(self.vocab.token_eos(), special=True)
        self._slots = [_Slot(seq=i + 1) for i in range(slots)]
        self._work: list[int] = []  # tokens held by sequence 0
        # One llama context: one generation at a time (the graph's experts run in threads).
        self._lock = threading.Lock()

    # ---- prompts ----------------------------------------------------------------------------

    def prompt_ids(self, messages: list[dict[str, str]], reserve: int = 0) -> list[int]:
        """Token ids of a chat with the generation prompt; the oldest dropped past the context
        (less `reserve` tokens for the answer), since the newest turn is the one answered."""
        with phase("tokenise"):
            if self.template:
                text = render_chat(self.template, messages, self._bos, self._eos)
            else:
                text = "\n".join(f"{m['role']}: {m['content']}" for m in messages)
                text += "\nassistant:"
            ids = [int(t) for t in self.vocab.tokenize(text, False, True)]
        limit = self.n_ctx - max(reserve, 1)
        ids = ids[-limit:] if len(ids) > limit else ids
        # The GGUF's vocabulary is the tokenizer's: these ids replay on transformers too.
        note_prompt(ids)
        return ids

    def prompt_tokens(self, messages: list[dict[str, str]], reserve: int = 0) -> int:
        return len(self.prompt_ids(messages, reserve))

    def system_length(self, messages: list[dict[str, str]], ids: list[int]) -> int:
        """How many leading tokens of `ids` are the leading system messages alone, or 0."""
        system = []
        for m in messages:
            if m["role"] != "system":
                break
            system.append(m)
        if not system or len(system) == len(messages) or not self.template:
            return 0
        text = render_chat(self.template, system, self._bos, self._eos)
        # The template's generation prompt follows the system part: cut it off again.
        head = [int(t) for t in self.vocab.tokenize(text, False, True)]
        while head and (len(head) > len(ids) or ids[: len(head)] != head):
            head.pop()
        return len(head)

    def prime(self, system: list[dict[str, str]]) -> int:
        """Run a chat's leading system messages now and keep them as a sequence, so a later
        chat that starts with them runs only what follows (the first turn's prefill, on the
        cold start's path, gets shorter). Returns how many tokens are kept (0: nothing to do)."""
        messages = [*system, {"role": "user", "content": "?"}]
        ids = self.prompt_ids(messages)
        fixed = self.system_length(messages, ids)
        if not fixed:
            return 0
        with self._lock, phase("prefill"):
            self._start(ids, fixed)
        return fixed

    # ---- generation -------------------------------------------------------------------------

    def stream(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int,
        counts: list[int] | None = None,
    ) -> Iterator[str]:
        ids = self.prompt_ids(messages, reserve=max_new_tokens)
        fixed = self.system_length(messages, ids)
        with self._lock:
            yield from self.decode(ids, max_new_tokens, fixed, counts)

    def decode(
        self,
        ids: list[int],
        max_new_tokens: int,
        fixed: int = 0,
        counts: list[int] | None = None,
    ) -> Iterator[str]:
        """Greedy decoding of prompt `ids` (the caller holds the lock), yielding whole characters
        as they come; stops at an end token, after `max_new_tokens`, or when the turn's time
        budget is spent. The first `fixed` tokens are kept as a sequence of their own."""
        with phase("prefill"):
            start = self._start(ids, fixed)
            self._eval(ids[start:], start)

        def feed(token: int) -> None:
            self._decode([token], len(self._work))
            self._work.append(token)

        yield from greedy_stream(
            lambda: int(self.sampler.sample(self.ctx, -1)),
            self.vocab.is_eog,
            self._text,
            feed,
            max_new_tokens,
            # The next turn of this conversation starts with this prompt and answer.
            finish=lambda: self._keep(len(self._work)),
            counts=counts,
        )

    def _text(self, tokens: list[int]) -> str:
        return str(self.vocab.detokenize(tokens, unparse_special=False))

    def _start(self, ids: list[int], fixed: int) -> int:
        """Make sequence 0 hold the longest start of `ids` any kept sequence (or itself) holds;
        that start's length. Keeps the first `fixed` tokens as a sequence when none holds them."""
        limit = len(ids) - 1  # the last prompt token is run again for its logits
        best = common_prefix(self._work, ids, limit)
        source: _Slot | None = None
        for slot in self._slots:
            n = common_prefix(slot.tokens, ids, limit)
            if n > best:
                best, source = n, slot
        if source is not None:
            source.used = time.monotonic()
            self.ctx.memory_seq_rm(0, -1, -1)
            self.ctx.memory_seq_cp(source.seq, 0, 0, best)
        else:
            self.ctx.memory_seq_rm(0, best, -1)
        self._work = ids[:best]
        if fixed and best < fixed:
            self._eval(ids[best:fixed], best)
            self._keep(fixed)
            best = fixed
        return best

    def _eval(self, ids: list[int], pos: int) -> None:
        """Run `ids` at positions `pos`.. of sequence 0, in batches of at most n_batch."""
        for i in range(0, len(ids), 512):
            chunk = ids[i : i + 512]
            self._decode(chunk, pos + i)
            self._work.extend(chunk)

    def _decode(self, tokens: list[int], pos: int) -> None:
        """Run `tokens` at positions `pos`.. of sequence 0. The kept sequences share the cache's
        cells with it: when none is free (a prompt or an answer growing past what they leave),
        they are forgotten and the tokens run again; sequence 0 alone always fits, since a
        prompt is cut to leave room for its answer."""
        cy = self._cy
        try:
            self.ctx.decode(cy.llama_batch_get_one(tokens, pos))
        except ValueError:
            for slot in self._slots:
                self.ctx.memory_seq_rm(slot.seq, -1, -1)
                slot.tokens = []
            self.ctx.decode(cy.llama_batch_get_one(tokens, pos))

    def _keep(self, n: int) -> None:
        """Keep the first `n` tokens of sequence 0 as a sequence (the least recently used slot's
        place), unless a kept sequence already starts with them."""
        tokens = self._work[:n]
        if not tokens or any(s.tokens[:n] == tokens for s in self._slots):
            return
        slot = min(self._slots, key=lambda s: s.used)
        self.ctx.memory_seq_rm(slot.seq, -1, -1)
        self.ctx.memory_seq_cp(0, slot.seq, 0, n)
        slot.tokens, slot.used = tokens, time.monotonic()


def _template(model: Any) -> str | None:
    try:
        value = model.meta_val_str("tokenizer.chat_template")
    except (ValueError, KeyError):
        return None
    return str(value) or None
