"""Kind capabilities are declared once with each kind and read where experts are run or trained."""

from __future__ import annotations

import pytest

from manyshores.components import mixes_in_one_batch
from manyshores.errors import ExpertStoreError, InvalidInputError
from manyshores.experts.kinds import capabilities, get_kind, kind_names
from manyshores.experts.persona.config import PersonaConfig
from manyshores.experts.persona.model import PersonaExpert
from manyshores.experts.types import ExpertInfo
from manyshores.nodes.route import expert_batches
from manyshores.runtime.scoring import survey_messages
from manyshores.state import ExpertChoice


def _choice(eid: str, kind: str) -> ExpertChoice:
    return {"id": eid, "culture": "KEN", "kind": kind, "weight": 0.5, "reason": "test"}


def test_each_kind_declares_its_capabilities() -> None:
    assert kind_names() == ["lora", "persona", "softprompt"]
    for name in kind_names():
        assert get_kind(name).capabilities is get_kind(name).expert_cls.capabilities
    assert capabilities("softprompt").shares_prefix and capabilities("base").shares_prefix
    assert capabilities("lora").on_lora_host and not capabilities("lora").shares_prefix
    assert not capabilities("persona").stored and not capabilities("persona").mixed_batch
    assert capabilities("persona").trainer is None and capabilities("lora").trainer
    with pytest.raises(InvalidInputError, match="cannot be trained"):
        capabilities("persona").train()
    with pytest.raises(ExpertStoreError, match="unknown expert kind"):
        capabilities("adapter-x")


def test_the_route_node_batches_by_capability() -> None:
    choices = [
        _choice("a", "softprompt"),
        _choice("persona:KEN", "persona"),
        _choice("b", "softprompt"),
        _choice("l", "lora"),
        _choice("persona:UGA", "persona"),
        _choice("x", "unknown-kind"),
    ]
    batches = [[c["id"] for c in b] for b in expert_batches(choices)]
    assert batches == [["a", "b"], ["l"], ["persona:KEN"], ["persona:UGA"], ["x"]]
    assert mixes_in_one_batch("base") and not mixes_in_one_batch("unknown-kind")


def test_the_persona_template_is_the_prompt() -> None:
    info = ExpertInfo("persona:KEN", "KEN", "persona", ["*"])
    default = PersonaExpert(info)
    assert default.instruction() == PersonaConfig().template.format(name="Kenya")
    custom = PersonaExpert(info, PersonaConfig(template="Reply like a {name} local."))
    user_turn = survey_messages("Tea?", ["yes", "no"], None, custom.instruction())[1]["content"]
    assert "Reply like a Kenya local." in user_turn
    assert "Kenya" in default.system_prompt()
