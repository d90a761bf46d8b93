"""The graph's expert backend: routing, a batch of experts answering, and aggregation.

It puts the expert machinery of `manyshores.experts` behind the graph's `ExpertBackend` protocol:
`experts.routing.route` decides the turn's path and experts over the registry; `Committee` runs
a batch sharing all it can (one KV cache of the shared prompt for soft prompts, one mixed batch
for LoRA); options are mixed by router weight and, for questions close to a known survey
question, with the cultures' known answers (survey memory), the `experts` system of
`manyshores eval wvs`. A task adapter answers with the prompt it was trained on
(`experts.prompts.task_messages`, retrieved passages as notes).

Survey memory is looked up once per culture in a turn, by `answer`; its result travels to
`aggregate` on the answers (`ExpertAnswer.survey_memory`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from manyshores.experts.combine import aggregate_options, aggregate_text, known_answers_mixture
from manyshores.experts.committee import expert_answer
from manyshores.experts.routing import CHAT_PREFIX, RegistryPicker, RouteDecision, route
from manyshores.runtime.resume import CUT_NOTE, SentText
from manyshores.runtime.scoring import survey_messages
from manyshores.runtime.text import answer_text
from manyshores.runtime.usage import chat_prompt_tokens
from manyshores.survey.decision import Calibration, decide, memory_lookup
from manyshores.web.sanitize import format_context_block

if TYPE_CHECKING:
    from manyshores.components.protocols import ComponentSource
    from manyshores.runtime.chat_options import ChatOptionScorer
    from manyshores.state import (
        CulturePosterior,
        EvidenceRecord,
        ExpertAnswer,
        ExpertChoice,
        KnownAnswers,
        Source,
        TaskInfo,
    )
    from manyshores.survey.chat_calibration import ChatCalibration

GENERAL_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer in one or two short sentences, in the language of "
    "the question. If you are not sure, say so."
)
"""The bare base model's instructions when it gives a general answer (no culture's evidence)."""
SURVEY_MEMORY_ID = "survey-memory"
"""Expert id of the answers survey memory gives in place of experts that would not count."""


def is_chat(answer: ExpertAnswer) -> bool:
    """An answer of the chat model's option experts (`chat:<culture>`)."""
    return answer["expert_id"].startswith(CHAT_PREFIX)


def chat_note(chat: list[ExpertAnswer], weight: float, memory: bool) -> str:
    """The trace's line on how the chat model's option probabilities took part."""
    methods = "/".join(sorted({str(a.get("method") or "?") for a in chat}))
    runtime = chat[0].get("runtime", "the chat model")
    if not memory:
        return f"{runtime}: option probabilities ({methods}) decide (no survey answers known)"
    return f"{runtime}: option probabilities ({methods}) joined survey memory, weight {weight:g}"


def _cut(note: str, cut: bool) -> str:
    """A fallback's note, saying so when the answer ends at what was sent before the failure."""
    return f"{note}: {CUT_NOTE}" if note and cut else note


def expert_messages(
    task: TaskInfo, sources: list[Source], conversation: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The chat the experts answer (personas add their own system prompt in the committee).

    Retrieved text goes into the user turn, fenced as quoted data, never into a system prompt.
    """
    context = format_context_block(sources)
    if task["options"]:
        return survey_messages(task["question"], task["options"], context or None)
    turns = [dict(m) for m in conversation if m["role"] != "system"]
    if context and turns and turns[-1]["role"] == "user":
        turns[-1]["content"] = f"{context}\n\n{turns[-1]['content']}"
    return turns


class CommitteeBackend:
    """`ExpertBackend` over the expert registry, the committee and survey memory."""

    def __init__(self, components: ComponentSource) -> None:
        self.components = components
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._parts: dict[str, Any] = {}
        if components.settings.chat_model:
            # A chat model that cannot be set up (unknown provider, package missing) is a clear
            # error now, not a failed turn later; building it sends no request.
            self._part("text")

    def _part(self, name: str) -> Any:
        if name in self._parts:
            return self._parts[name]
        # A lock per part: the text runtime is not held up by the registry loading the base
        # model. The committee takes the registry's and the text runtime's locks inside its own;
        # nothing takes them in the other order.
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            return self._get_unlocked(name)

    def _build(self, name: str) -> Any:
        if name == "registry":
            from manyshores.experts.registry import ExpertRegistry
            from manyshores.paths import PACKAGE_EXPERTS
            from manyshores.runtime.base_model import known_fingerprint

            settings = self.components.settings
            fingerprint = None if self.components.base else known_fingerprint(settings=settings)
            if fingerprint is None:
                return ExpertRegistry.from_settings(settings, self.components.get_base())
            # Routing needs only the fingerprint: the model loads when an expert runs.
            user = settings.user_experts_dir
            return ExpertRegistry(
                None,
                [PACKAGE_EXPERTS, user],
                user_root=user,
                load_base=self.components.get_base,
                fingerprint=fingerprint,
            )
        if name == "committee":
            from manyshores.experts.committee import Committee

            committee = Committee(
                self.components.get_base(),
                self._part("registry"),
                self._part("text"),
            )
            if self.components.settings.engine == "vllm":
                from manyshores.experts.vllm.engine import vllm_engine

                return vllm_engine(self.components.settings, committee)
            return committee
        if name == "text":
            # Plain generation; the llama.cpp runtime needs no transformers model, so a turn
            # answered by the bare base model does not wait for one to load.
            from manyshores.runtime.selection import text_runtime

            # A base model given to the components (not loaded from the settings) decides.
            given = self.components.base
            return text_runtime(self.components.settings, given or self.components.get_base)
        if name == "runner":
            from manyshores.experts.runner import AdapterRunner

            return AdapterRunner(self.components.get_base(), self._part("registry"))
        if name == "options":
            from manyshores.runtime.chat_options import ChatOptionScorer

            return ChatOptionScorer(self._part("text"), self.components.settings.chat_model_samples)
        if name == "chat_calibration":
            from manyshores.survey.chat_calibration import read_chat_calibration

            settings = self.components.settings
            return read_chat_calibration(settings.user_experts_dir, settings.chat_model or "")
        from manyshores.survey.memory import SurveyMemory

        return SurveyMemory.from_package(user_store=self.components.settings.user_experts_dir)

    def _get_unlocked(self, name: str) -> Any:
        if name not in self._parts:
            self._parts[name] = self._build(name)
        return self._parts[name]

    def route(
        self,
        posterior: CulturePosterior,
        task: TaskInfo,
        *,
        has_evidence: bool = False,
        language: str | None = None,
        answered: bool = False,
    ) -> RouteDecision:
        chat = bool(self.components.settings.chat_model)
        return route(
            posterior,
            task,
            RegistryPicker(lambda: self._part("registry")),
            has_evidence=has_evidence,
            language=language,
            general_languages=self.components.settings.general_answer_languages,
            writes_requests=chat,
            answered=answered,
            grounds=chat,
            chat_options=chat,
        )

    def answer(
        self,
        choices: list[ExpertChoice],
        *,
        text: str,
        task: TaskInfo,
        sources: list[Source],
        conversation: list[dict[str, str]],
        on_token: Callable[[str], None] | None = None,
        evidence: list[EvidenceRecord] | None = None,
        language: str | None = None,
        models_needed: Callable[[], bool] | None = None,
    ) -> list[ExpertAnswer]:
        chats = [c for c in choices if c["kind"] == "chat"]
        if task["options"] and chats:
            return self._chat_options(chats, task, sources)
        if choices and choices[0].get("path") == "grounded":
            from manyshores.components.chat_experts import answer_grounded

            question = conversation[-1]["content"] if conversation else text
            return [
                answer_grounded(
                    self._part("text"),
                    choice,
                    question=question,
                    task=task,
                    sources=sources,
                    evidence=list(evidence or []),
                    language=language,
                    max_new_tokens=self.components.settings.max_new_tokens,
                    on_token=on_token if len(choices) == 1 else None,
                )
                for choice in choices
            ]
        if task["options"]:
            start = time.perf_counter()
            known = self._known_answers([c["culture"] for c in choices], task)
            if choices and choices[0].get("path") == "survey_memory":
                # The experts' weight is 0 for this expert set: whatever they said, memory
                # decides, so they are not run; each culture's known answers stand in for them
                # (the experts run only when memory knows nothing close to the question).
                found = self._memory_answers(choices, task, known, time.perf_counter() - start)
                if found:
                    return found
            if models_needed is not None and not models_needed():
                return []
            context = format_context_block(sources) or None
            answers: list[ExpertAnswer] = self._part("committee").score_options(
                task["question"], task["options"], context, choices
            )
            for answer in answers:
                answer["survey_memory"] = known.get(answer["culture"])
            return answers
        max_new = self.components.settings.max_new_tokens
        if len(choices) == 1 and choices[0].get("path") == "task_adapter":
            from manyshores.experts.prompts import task_messages

            start = time.perf_counter()
            chat = task_messages(
                choices[0]["culture"],
                task["question"],
                context=[s["snippet"] for s in sources if s["snippet"]],
            )
            sent = SentText(on_token)
            remote = self._remote(choices[0], chat, max_new, sent.callback)
            if not isinstance(remote, str):
                return [remote]
            counts: list[int] = []
            text = self._part("runner").generate(choices[0]["id"], chat, max_new, counts)
            # Past what the engine streamed before it failed, never the same words twice.
            resume = sent.resume()
            if resume.callback is not None:
                resume(text)
            text, cut = resume.finish(text.strip())
            return [
                self._fell_back(
                    _cut(remote, cut),
                    expert_answer(
                        choices[0],
                        text,
                        None,
                        time.perf_counter() - start,
                        **self._usage(chat, counts),
                    ),
                )
            ]
        messages = expert_messages(task, sources, conversation)
        if len(choices) == 1 and choices[0]["kind"] == "base":
            # The bare base model's general answer, streamed as it comes.
            start = time.perf_counter()
            chat = [{"role": "system", "content": GENERAL_SYSTEM_PROMPT}, *messages]
            sent = SentText(on_token)
            remote = self._remote(choices[0], chat, max_new, sent.callback)
            if not isinstance(remote, str):
                return [remote]
            resume = sent.resume()
            done = answer_text(self._part("text"), chat, max_new, resume.callback)
            text, cut = resume.finish(done.text)
            answer = expert_answer(
                choices[0],
                text,
                None,
                time.perf_counter() - start,
                input_tokens=done.input_tokens,
                output_tokens=done.output_tokens,
            )
            answer["runtime"] = done.runtime
            notes = [n for n in (_cut(remote, cut), done.note) if n]
            return [self._fell_back("; ".join(notes), answer)]
        # A persona answering alone streams its words to the caller as they come.
        return self._part("committee").generate(  # type: ignore[no-any-return]
            messages, choices, max_new_tokens=max_new, on_token=on_token
        )

    def _remote(
        self,
        choice: ExpertChoice,
        chat: list[dict[str, str]],
        max_new: int,
        on_token: Callable[[str], None] | None,
    ) -> ExpertAnswer | str:
        """The answer from the serving engine when one is configured; else why not ("" when
        there is none), and the caller runs it in-process."""
        settings = self.components.settings
        if settings.engine != "vllm":
            return ""  # without building the committee: a general answer needs no base model
        if settings.chat_model and choice["kind"] == "base":
            return ""  # plain generation is the chat model's (adapters stay on the engine)
        from manyshores.experts.vllm.engine import VllmEngine

        engine = self._part("committee")
        if not isinstance(engine, VllmEngine):
            return ""
        return engine.answer_chat(choice, chat, max_new, on_token)

    @staticmethod
    def _fell_back(note: str, answer: ExpertAnswer) -> ExpertAnswer:
        if note:
            answer["note"] = note
        return answer

    def _usage(self, chat: list[dict[str, str]], generated: list[int]) -> dict[str, int]:
        """Token counts of one generated answer: its prompt (as the base model's tokenizer
        counts it) and its generated tokens."""
        reserve = self.components.settings.max_new_tokens
        prompt = chat_prompt_tokens(self.components.get_base(), chat, reserve=reserve)
        return {
            "input_tokens": prompt,
            "output_tokens": sum(generated),
        }

    def calibration(self) -> Calibration:
        """The combination constants of the expert set in use (see `decision.Calibration`)."""
        return self._part("registry").calibration()  # type: ignore[no-any-return]

    def _known_answers(self, cultures: list[str], task: TaskInfo) -> dict[str, KnownAnswers | None]:
        """Each culture's known answers to this question (survey memory, before the similarity
        floor, which applies where they are used): one lookup per culture."""
        calibration = self.calibration()
        out: dict[str, KnownAnswers | None] = {}
        for culture in dict.fromkeys(cultures):
            if not culture:
                out[culture] = None  # the base model speaks for no culture
                continue
            found = memory_lookup(
                self._part("memory"),
                [(culture, 1.0)],
                task["question"],
                task["options"],
                floor=None,
                params=calibration.memory_params(),
            )
            out[culture] = (
                None if found is None else {"probs": found.probs, "similarity": found.similarity}
            )
        return out

    def _memory_answers(
        self,
        choices: list[ExpertChoice],
        task: TaskInfo,
        known: dict[str, KnownAnswers | None],
        seconds: float,
    ) -> list[ExpertAnswer]:
        """One answer per culture of the choices whose known answers pass the similarity floor:
        that culture's survey memory."""
        floor = self.calibration().memory_min_similarity
        weights: dict[str, float] = {}
        for ch in choices:
            if ch["culture"]:
                weights[ch["culture"]] = weights.get(ch["culture"], 0.0) + ch["weight"]
        out: list[ExpertAnswer] = []
        for culture, weight in weights.items():
            found = known.get(culture)
            if found is None or found["similarity"] < floor:
                continue
            one: ExpertChoice = {
                "id": SURVEY_MEMORY_ID,
                "culture": culture,
                "kind": "memory",
                "weight": weight,
                "reason": "survey memory",
                "path": "survey_memory",
            }
            probs = found["probs"]
            pick = max(range(len(probs)), key=lambda i: probs[i])
            out.append(expert_answer(one, task["options"][pick], probs, seconds))
        return out

    def aggregate(
        self, answers: list[ExpertAnswer], task: TaskInfo
    ) -> tuple[str, list[float], int | None, float, list[str]]:
        if not answers:
            return "", [], None, 0.0, ["no expert could answer"]
        options = task["options"]
        # A chat model's option experts are one more factor of the decision, with their own
        # calibrated weight; one that failed (no distribution) is left out.
        chat = [a for a in answers if is_chat(a) and a["option_probs"]]
        rest = [a for a in answers if not is_chat(a)]
        if options and (rest or chat) and all(a["option_probs"] for a in rest):
            _, _, disagreement = aggregate_options([*rest, *chat], ordinal=False)
            from_memory = bool(rest) and all(a["expert_id"] == SURVEY_MEMORY_ID for a in rest)
            belief = aggregate_options(rest, ordinal=False)[0] if rest else None
            memory = belief if from_memory else self._memory_of([*rest, *chat], task)
            chat_belief = aggregate_options(chat, ordinal=False)[0] if chat else None
            weight = self.chat_calibration().survey_weight if chat else 0.0
            decision = decide(
                None if from_memory else belief, memory, self.calibration(), chat_belief, weight
            )
            notes = [chat_note(chat, weight, decision.memory)] if chat else []
            if from_memory:
                notes.append(
                    "survey memory: the cultures' known answers to similar questions "
                    "(the experts carry no weight for this expert set, so they did not run)"
                )
            elif decision.memory and rest:
                notes.append("survey memory: the cultures' known answers to similar questions")
            # The reader is told the most likely option; `choice` is the option the survey
            # metrics score (nearest the expected position on an ordinal scale).
            return options[decision.answer], decision.probs, decision.choice, disagreement, notes
        text, disagreement = aggregate_text(answers)
        notes = [f"{len(answers)} experts answered; disagreement {disagreement:.2f}"]
        return text, [], None, disagreement, notes if len(answers) > 1 else []

    def chat_scorer(self) -> ChatOptionScorer:
        """The configured chat model's option probabilities (`runtime.chat_options`)."""
        return self._part("options")  # type: ignore[no-any-return]

    def use_chat_calibration(self, calibration: ChatCalibration) -> None:
        """Decide with `calibration` in place of the stored one (a fitting run)."""
        with self._lock:
            self._parts["chat_calibration"] = calibration

    def chat_calibration(self) -> ChatCalibration:
        """What the configured chat model's option probabilities weigh (weights 0 when it was
        never measured: `survey.chat_calibration`)."""
        return self._part("chat_calibration")  # type: ignore[no-any-return]

    def _chat_options(
        self, choices: list[ExpertChoice], task: TaskInfo, sources: list[Source]
    ) -> list[ExpertAnswer]:
        """The chat model's option experts; none asked when survey memory answers the question
        and the model's survey weight is 0 (memory alone decides, as for uncalibrated experts)."""
        from manyshores.components.chat_experts import answer_options, memory_known

        known = self._known_answers([c["culture"] for c in choices], task)
        floor = self.calibration().memory_min_similarity
        if self.chat_calibration().survey_weight <= 0 and memory_known(known, floor):
            return []
        return answer_options(self._part("options"), choices, task, sources, known)

    def _memory_of(self, answers: list[ExpertAnswer], task: TaskInfo) -> list[float] | None:
        """The answers' cultures' known answers, mixed by weight and floored: as `answer` found
        them (answers made elsewhere, without them, are looked up here)."""
        missing = [a["culture"] for a in answers if "survey_memory" not in a]
        if missing:
            known = self._known_answers(missing, task)
            answers = [
                a if "survey_memory" in a else {**a, "survey_memory": known[a["culture"]]}
                for a in answers
            ]
        return known_answers_mixture(answers, self.calibration().memory_min_similarity)
