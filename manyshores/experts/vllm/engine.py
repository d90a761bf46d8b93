"""The `Engine` over a vLLM server: the same model work, batched across turns by vLLM.

What runs where:
- option scoring of the base, personas and LoRA experts: `/v1/completions` on the exact token
  ids the in-process scorer builds (`scoring.prompt_ids`), one generated token with the
  log-probabilities of the option letters (`logprob_token_ids`); a softmax over the letters is
  the in-process `label_logprobs`. (`prompt_logprobs` on a LoRA server crashed vLLM 0.32's CPU
  engine when several such requests shared a batch; see `docs/engine.md`.)
- generation of the base, personas and LoRA experts: greedy `/v1/completions` on the token ids
  of the in-process chat prompt (`generation.chat_input_ids`), streamed for a lone expert; with a
  chat model set (`MANYSHORES_CHAT_MODEL`), the base's and personas' text is that model's;
- LoRA experts are vLLM LoRA modules exported from the expert store (`vllm_adapters`), loaded
  at start or through dynamic loading when added later; the base is an all-zero adapter.
- soft-prompt experts are *not served* here: vLLM refuses `prompt_logprobs` with prompt
  embeddings and crashed when embeddings and LoRA shared one server (see `docs/engine.md`), so
  they run in-process, exactly as without the engine.

Failures: any request that fails (unreachable, silent past the timeout, stream cut) makes that
call run in-process instead, and each answer says so in its `note` (the turn's trace shows it);
a stream cut mid-answer continues in-process past the words already sent (`runtime.resume`);
after a failure the server is left alone for `retry_after_s`, so a dead server costs one
timeout, not one per turn.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import ManyshoresError
from manyshores.experts.committee import BASE_ID, Committee, expert_answer
from manyshores.experts.kinds import capabilities
from manyshores.experts.persona.model import PersonaExpert
from manyshores.experts.types import ExpertInfo
from manyshores.experts.vllm.adapters import BASE_ADAPTER, export_lora
from manyshores.runtime.chat_text import ChatModelText
from manyshores.runtime.resume import CUT_NOTE, SentText
from manyshores.runtime.scoring import label_token_ids, prompt_ids, survey_messages
from manyshores.runtime.text import TOKENIZER_LOCK
from manyshores.runtime.vllm_client import EngineError, VllmClient

if TYPE_CHECKING:
    from manyshores.config import Settings
    from manyshores.experts.registry import ExpertRegistry
    from manyshores.runtime.base_model import BaseModel
    from manyshores.state import ExpertAnswer, ExpertChoice

SERVED_KINDS = frozenset({"base", "persona", "lora"})
"""Expert kinds this engine sends to vLLM; the others (soft prompts) run in-process."""
FALLBACK_NOTE = "the vLLM engine failed ({why}); this answer ran in-process"


class VllmEngine:
    """`Engine` on a vLLM server, with the in-process committee for what it does not serve."""

    def __init__(
        self,
        base: BaseModel,
        registry: ExpertRegistry | None,
        client: VllmClient,
        local: Committee,
        adapters_dir: Path,
        base_dir: Callable[[], Path | None] | None = None,
        retry_after_s: float = 30.0,
    ) -> None:
        self.base = base
        self.registry = registry
        self.client = client
        self.local = local
        """The in-process engine: soft prompts, and every call the server failed."""
        self.adapters_dir = adapters_dir
        """Where LoRA experts added after the server started are exported for dynamic loading."""
        self.base_dir = base_dir
        """The base model's directory, for exporting adapters (asked only when one is needed)."""
        self.retry_after_s = retry_after_s
        self._loaded: set[str] | None = None
        self._down_until = 0.0
        self._last_note = ""
        self._lock = threading.Lock()
        # The in-process model and a fast tokenizer must not be used from two threads at once.
        self._local_lock = threading.Lock()
        # Requests of one committee go out together, so that the server batches them.
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="manyshores-vllm")

    # ---- what is served ------------------------------------------------------------------

    def serves(self, choice: ExpertChoice) -> bool:
        """True when this choice's expert runs on the server."""
        return choice["id"] == BASE_ID or choice["kind"] in SERVED_KINDS

    def generates(self, choice: ExpertChoice) -> bool:
        """True when this choice's free text is generated on the server: not when a chat model
        writes plain text (the base and personas), which the in-process committee sends it."""
        plain = choice["id"] == BASE_ID or choice["kind"] == "persona"
        if plain and isinstance(self.local.text, ChatModelText):
            return False
        return self.serves(choice)

    def _model(self, choice: ExpertChoice) -> str:
        """The server's model name of a choice: its adapter, or the zero adapter for the base
        and personas (which are the base model with another prompt)."""
        if choice["id"] == BASE_ID or not capabilities(choice["kind"]).on_lora_host:
            return BASE_ADAPTER
        self._ensure_adapter(choice["id"])
        return choice["id"]

    def _ensure_adapter(self, expert_id: str) -> None:
        """Load an adapter the server lacks (added to the store after it started)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = set(self.client.models())
            if expert_id in self._loaded:
                return
        try:
            base_dir = self.base_dir() if self.base_dir is not None else None
            if self.registry is None or base_dir is None:
                raise EngineError(f"the vLLM server has no adapter {expert_id!r}")
            info = self.registry.info(expert_id)
            if info.path is None:
                raise EngineError(f"expert {expert_id!r} has no store directory to export")
            exported = export_lora(info.path, self.adapters_dir, base_dir)
        except (ManyshoresError, OSError) as exc:
            if isinstance(exc, EngineError):
                raise
            raise EngineError(
                f"adapter {expert_id!r} could not be exported for vLLM: {exc}"
            ) from exc
        self.client.load_adapter(expert_id, str(exported.path))
        with self._lock:
            assert self._loaded is not None
            self._loaded.add(expert_id)

    def _persona(self, choice: ExpertChoice) -> PersonaExpert:
        if self.registry is not None:
            persona: PersonaExpert = self.registry.get(choice["id"])
            return persona
        return PersonaExpert(ExpertInfo(choice["id"], choice["culture"], "persona", ["*"]))

    def _split(
        self, choices: list[ExpertChoice], serves: Callable[[ExpertChoice], bool] | None = None
    ) -> tuple[list[int], list[int], str | None]:
        """(served choices, in-process choices, the note when the engine is being left alone)."""
        serves = serves or self.serves
        served = [i for i, c in enumerate(choices) if serves(c)]
        rest = [i for i in range(len(choices)) if i not in served]
        if served and time.monotonic() < self._down_until:
            return [], sorted(served + rest), self._last_note
        return served, rest, None

    def _failed(self, exc: EngineError) -> str:
        self._down_until = time.monotonic() + self.retry_after_s
        self._last_note = FALLBACK_NOTE.format(why=str(exc))
        return self._last_note

    def _map(self, fn: Callable[[ExpertChoice], Any], choices: list[ExpertChoice]) -> list[Any]:
        """`fn` on every choice, concurrently (a lone choice on the caller's own thread)."""
        if len(choices) == 1:
            return [fn(choices[0])]
        return list(self._pool.map(fn, choices))

    def _ids(self, fn: Callable[..., Any], *args: Any) -> Any:
        with TOKENIZER_LOCK:
            return fn(*args)

    # ---- options -------------------------------------------------------------------------

    def score_options(
        self,
        question: str,
        options: list[str],
        context: str | None,
        choices: list[ExpertChoice],
    ) -> list[ExpertAnswer]:
        """Each expert's distribution over `options` (see the module docstring)."""
        remote, local, note = self._split(choices)
        meant = remote or [i for i, c in enumerate(choices) if note and self.serves(c)]
        out: dict[int, ExpertAnswer] = {}
        if remote:
            try:
                answers = self._score_remote(
                    question, options, context, [choices[i] for i in remote]
                )
                out.update(zip(remote, answers, strict=True))
            except EngineError as exc:
                note, local = self._failed(exc), sorted(local + remote)
        if local:
            with self._local_lock:
                answers = self.local.score_options(
                    question, options, context, [choices[i] for i in local]
                )
            out.update(zip(local, answers, strict=True))
        return self._noted([out[i] for i in range(len(choices))], note, meant)

    def _score_remote(
        self, question: str, options: list[str], context: str | None, choices: list[ExpertChoice]
    ) -> list[ExpertAnswer]:
        start = time.perf_counter()
        labels = self._ids(label_token_ids, self.base, len(options))
        plain = self._ids(prompt_ids, self.base, survey_messages(question, options, context))

        def one(choice: ExpertChoice) -> tuple[list[float], int]:
            ids = plain
            if choice["id"] != BASE_ID and choice["kind"] == "persona":
                line = self._persona(choice).instruction()
                messages = survey_messages(question, options, context, line)
                ids = self._ids(prompt_ids, self.base, messages)
            return self._label_probs(self._model(choice), ids, labels), len(ids)

        results = self._map(one, choices)
        secs = (time.perf_counter() - start) / max(1, len(choices))
        return [
            expert_answer(
                c,
                options[max(range(len(options)), key=probs.__getitem__)],
                probs,
                secs,
                input_tokens=n,
                output_tokens=0,
            )
            for c, (probs, n) in zip(choices, results, strict=True)
        ]

    def _label_probs(self, model: str, ids: list[int], labels: list[int]) -> list[float]:
        """P(letter | prompt) over the letters: the log-probabilities vLLM reports for exactly
        the letter ids at the first generated position (`logprob_token_ids`; raw, i.e. before
        any sampling processing), normalised over the letters as `label_logprobs` does."""
        data = self.client.post(
            "/v1/completions",
            {
                "model": model,
                "prompt": ids,
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": len(labels),
                "logprob_token_ids": labels,
                # Keys `token_id:<id>`, not decoded text that two tokens could share.
                "return_tokens_as_token_ids": True,
            },
        )
        try:
            top = data["choices"][0]["logprobs"]["top_logprobs"][0]
            logps = [float(top[f"token_id:{label}"]) for label in labels]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise EngineError(
                f"vLLM's answer has no log-probability of every option: {data!r:.300}"
            ) from exc
        best = max(logps)
        exps = [math.exp(x - best) for x in logps]
        total = sum(exps)
        return [e / total for e in exps]

    # ---- free text -----------------------------------------------------------------------

    def generate(
        self,
        messages: list[dict[str, str]],
        choices: list[ExpertChoice],
        max_new_tokens: int = 96,
        ignore_eos: bool = False,
        on_token: Callable[[str], None] | None = None,
    ) -> list[ExpertAnswer]:
        """Each expert's greedy answer; a lone served expert streams through `on_token`."""
        remote, local, note = self._split(choices, self.generates)
        meant = remote or [i for i, c in enumerate(choices) if note and self.generates(c)]
        out: dict[int, ExpertAnswer] = {}
        sent = SentText(on_token if len(choices) == 1 else None)
        cut = False
        if remote:
            start = time.perf_counter()
            lone = sent.callback

            def one(choice: ExpertChoice) -> tuple[str, int, int]:
                chat = messages
                if choice["id"] != BASE_ID and choice["kind"] == "persona":
                    system = {"role": "system", "content": self._persona(choice).system_prompt()}
                    chat = [system, *messages]
                return self.chat(chat, self._model(choice), max_new_tokens, ignore_eos, lone)

            try:
                results = self._map(one, [choices[i] for i in remote])
                secs = (time.perf_counter() - start) / max(1, len(remote))
                for i, (text, n_in, n_out) in zip(remote, results, strict=True):
                    out[i] = expert_answer(
                        choices[i], text, None, secs, input_tokens=n_in, output_tokens=n_out
                    )
            except EngineError as exc:
                note, local, out = self._failed(exc), list(range(len(choices))), {}
        if local:
            # A stream cut mid-answer is generated again in-process; the caller receives only
            # what extends the words it already has (`runtime.resume`).
            resume = sent.resume()
            stream = resume.callback if sent.sent else on_token
            with self._local_lock:
                answers = self.local.generate(
                    messages, [choices[i] for i in local], max_new_tokens, ignore_eos, stream
                )
            if sent.sent:
                answers[0]["text"], cut = resume.finish(answers[0]["text"])
            out.update(zip(local, answers, strict=True))
        if note is not None and cut:
            note = f"{note}: {CUT_NOTE}"
        return self._noted([out[i] for i in range(len(choices))], note, meant)

    def chat(
        self,
        messages: list[dict[str, str]],
        model: str = BASE_ADAPTER,
        max_new_tokens: int = 96,
        ignore_eos: bool = False,
        on_token: Callable[[str], None] | None = None,
    ) -> tuple[str, int, int]:
        """Greedy answer of `model` (an adapter name, `base` for the bare model) to a chat:
        (text stripped, prompt tokens, generated tokens). Raises `EngineError`."""
        from manyshores.runtime.generation import chat_input_ids

        ids = self._ids(chat_input_ids, self.base, messages, max_new_tokens)[0].cpu().tolist()
        body: dict[str, Any] = {
            "model": model,
            "prompt": ids,
            "max_tokens": max_new_tokens,
            "temperature": 0.0,
            "ignore_eos": ignore_eos,
            "skip_special_tokens": True,
        }
        if on_token is None:
            data = self.client.post("/v1/completions", body)
            try:
                text = str(data["choices"][0]["text"])
                generated = int(data["usage"]["completion_tokens"])
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise EngineError(f"vLLM's completion is not the protocol: {data!r:.300}") from exc
            return text.strip(), len(ids), generated
        pieces: list[str] = []
        generated = 0
        body["stream_options"] = {"include_usage": True}
        for event in self.client.stream("/v1/completions", body):
            for c in event.get("choices") or []:
                piece = c.get("text") or ""
                # Leading whitespace is dropped from the answer, so it is not streamed either.
                if piece and (pieces or piece.strip()):
                    piece = piece if pieces else piece.lstrip()
                    pieces.append(piece)
                    on_token(piece)
            usage = event.get("usage")
            if usage:
                generated = int(usage.get("completion_tokens", generated))
        return "".join(pieces).strip(), len(ids), generated

    def answer_chat(
        self,
        choice: ExpertChoice,
        chat: list[dict[str, str]],
        max_new_tokens: int,
        on_token: Callable[[str], None] | None,
    ) -> ExpertAnswer | str:
        """One expert's answer to a whole chat (its own prompt: a task adapter's, the general
        answer's), streamed; on failure the note saying so, for the caller to run it locally."""
        if time.monotonic() < self._down_until:
            return self._last_note
        start = time.perf_counter()
        try:
            text, n_in, n_out = self.chat(
                chat, self._model(choice), max_new_tokens, on_token=on_token
            )
        except EngineError as exc:
            return self._failed(exc)
        answer = expert_answer(
            choice, text, None, time.perf_counter() - start, input_tokens=n_in, output_tokens=n_out
        )
        answer["engine"] = "vllm"
        return answer

    def _noted(
        self, answers: list[ExpertAnswer], note: str | None, meant: list[int]
    ) -> list[ExpertAnswer]:
        """Mark where each answer ran; those `meant` for the server carry `note` when it failed."""
        for i, a in enumerate(answers):
            if note is not None and i in meant:
                a["note"] = note
            a["engine"] = "vllm" if i in meant and note is None else "in-process"
        return answers


def vllm_engine(settings: Settings, local: Committee) -> VllmEngine:
    """The vLLM engine the settings name, over the in-process committee `local`."""
    from manyshores.experts.vllm.server import engine_url
    from manyshores.runtime.base_model import resolve_model_source

    client = VllmClient(engine_url(settings), timeout_s=settings.vllm_timeout_s)

    def base_dir() -> Path | None:
        model, is_local = resolve_model_source(settings.base_model, settings)
        return Path(model) if is_local else None

    return VllmEngine(
        local.base, local.registry, client, local, settings.engine_dir / "adapters", base_dir
    )
