"""One routing decision: its paths and reasons, and survey memory looked up once per culture in
a real graph turn (tiny model, real detector, registry and survey memory)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from manyshores.experts.routing import general_choice, route
from manyshores.state import CulturePosterior, ExpertChoice, TaskInfo
from tests.fakes import posterior_of

OPEN: TaskInfo = {"name": "open_qa", "question": "What is for breakfast?", "options": []}
FAMILY: TaskInfo = {
    "name": "multiple_choice",
    "question": "How important is family in your life?",
    "options": ["Very important", "Rather important", "Not very important", "Not at all important"],
}
FAMILY_OPTIONS = ", ".join(FAMILY["options"])


@dataclass
class Picker:
    """Experts on offer: an optional task adapter, one soft prompt per culture."""

    adapter: bool = False
    """Whether the leading culture has a task adapter."""
    memory: bool = False
    """Whether the calibration leaves the decision to survey memory."""
    asked: list[str] = field(default_factory=list)
    """Which of the picker's methods routing called."""

    def task_adapter(self, posterior: CulturePosterior, task: TaskInfo) -> ExpertChoice | None:
        self.asked.append("task_adapter")
        if not self.adapter:
            return None
        top = posterior["cultures"][0]["id"]
        return {"id": f"{top}.qa.lora", "culture": top, "kind": "lora", "weight": 1.0,
                "reason": "task adapter: trained"}  # fmt: skip

    def committee(self, posterior: CulturePosterior, task: TaskInfo) -> list[ExpertChoice]:
        self.asked.append("committee")
        return [
            {"id": f"{c['id']}-sp", "culture": c["id"], "kind": "softprompt", "weight": c["p"],
             "reason": "posterior"}
            for c in posterior["cultures"]
        ]  # fmt: skip

    def memory_decides(self) -> bool:
        self.asked.append("memory_decides")
        return self.memory


def test_open_questions_go_to_evidence_a_task_adapter_or_a_general_answer() -> None:
    kenya = posterior_of({"KEN": 1.0})
    picker = Picker(adapter=True)
    evidence = route(kenya, OPEN, picker, has_evidence=True)
    assert (evidence.path, evidence.experts, picker.asked) == ("evidence", [], [])

    hidden = route(kenya, OPEN, picker, language="sw", general_languages=["en"])
    assert (hidden.path, hidden.experts) == ("general", []) and "sw" in hidden.reason

    adapter = route(kenya, OPEN, picker, language="en", general_languages=["en"])
    assert adapter.path == "task_adapter" and [c["id"] for c in adapter.experts] == ["KEN.qa.lora"]
    assert adapter.experts[0]["path"] == "task_adapter"

    general = route(kenya, OPEN, Picker(adapter=False))
    assert general.path == "general"
    assert general.experts == [general_choice("KEN", "no evidence: general answer")]
    # A persona's text is never the culture's answer: the committee is not even asked.
    assert "committee" not in picker.asked


@pytest.mark.parametrize("task", [OPEN, FAMILY])
def test_no_culture_in_play_is_a_general_answer(task: TaskInfo) -> None:
    for posterior in (posterior_of({}), posterior_of({"KEN": 0.1, "GBR": 0.1, "USA": 0.1})):
        picker = Picker(adapter=True, memory=True)
        decision = route(posterior, task, picker)
        assert decision.path == "general" and picker.asked == []
        [choice] = decision.experts
        assert (choice["id"], choice["culture"], choice["kind"]) == ("base", "", "base")


def test_option_questions_go_to_the_experts_or_to_survey_memory() -> None:
    both = posterior_of({"KEN": 0.6, "BRA": 0.4})
    experts = route(both, FAMILY, Picker(adapter=True))
    assert experts.path == "experts"
    assert [c["id"] for c in experts.experts] == ["KEN-sp", "BRA-sp"]
    assert {c["path"] for c in experts.experts} == {"experts"}
    memory = route(both, FAMILY, Picker(memory=True))
    assert memory.path == "survey_memory" and len(memory.experts) == 2
    assert {c["path"] for c in memory.experts} == {"survey_memory"}


@contextmanager
def counting_lookups(assistant: Any) -> Iterator[Counter[str]]:
    """Counts the real survey memory's lookups (`SurveyMemory.predict`) per culture."""
    memory = assistant.components.get_experts()._part("memory")
    real = memory.predict
    calls: Counter[str] = Counter()

    def predict(culture: str, *args: Any, **kwargs: Any) -> Any:
        calls[culture] += 1
        return real(culture, *args, **kwargs)

    memory.predict = predict
    try:
        yield calls
    finally:
        del memory.predict


def test_survey_memory_is_looked_up_once_per_culture_when_it_answers(tiny_base, tmp_path) -> None:
    from tests.graph_fixtures import tiny_assistant

    assistant = tiny_assistant(tiny_base, tmp_path)
    question = (
        f"In Kenya and in Brazil, how important is family in your life? Options: {FAMILY_OPTIONS}"
    )
    with counting_lookups(assistant) as calls:
        result = assistant.invoke(question, thread_id="memory")
    assert {c["id"] for c in result.cultures[:2]} == {"KEN", "BRA"}
    # No expert set is calibrated for the tiny model: memory answers for each culture.
    assert {e["path"] for e in result.experts} == {"survey_memory"}
    answers = result.values["expert_answers"]
    assert sorted(a["culture"] for a in answers) == ["BRA", "KEN"]
    assert {a["expert_id"] for a in answers} == {"survey-memory"}
    assert calls == {"KEN": 1, "BRA": 1}


def test_the_lookup_the_experts_made_is_the_one_aggregate_combines(tiny_base, tmp_path) -> None:
    import torch

    from manyshores.experts.store import ExpertManifest, save_expert
    from manyshores.survey.decision import Calibration
    from tests.graph_fixtures import tiny_assistant

    root = tmp_path / "experts"
    torch.manual_seed(0)
    manifest = ExpertManifest(id="ken-sp", culture="KEN", kind="softprompt",
                              base_fingerprint=tiny_base.fingerprint,
                              hyperparameters={"num_virtual_tokens": 2})  # fmt: skip
    save_expert(root, manifest, {"prompt": torch.randn(2, 64)})
    assistant = tiny_assistant(tiny_base, tmp_path, experts_dir=root)
    registry = assistant.components.get_experts()._part("registry")
    Calibration(expert_weight=0.5, experts_stamp=registry.experts_stamp(),
                base_fingerprint=tiny_base.fingerprint).save(root)  # fmt: skip
    registry.refresh()

    question = f"I'm from Kenya. How important is family in your life? Options: {FAMILY_OPTIONS}"
    with counting_lookups(assistant) as calls:
        result = assistant.invoke(question, thread_id="experts")
    assert [(e["id"], e["path"]) for e in result.experts] == [("ken-sp", "experts")]
    [answer] = result.values["expert_answers"]
    assert answer["expert_id"] == "ken-sp"
    known = answer["survey_memory"]
    assert known is not None and known["similarity"] > 0.6
    # The experts' belief joined with what memory knows, which was looked up once.
    assert result.option_probs != answer["option_probs"]
    assert any("survey memory" in n for n in result.values["notes"])
    assert calls == {"KEN": 1}
