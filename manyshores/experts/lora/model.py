"""A LoRA expert, and the PEFT wrapper that runs several of them in one mixed batch.

PEFT injects LoRA layers into the model it wraps. The shared base model must stay untouched for
every other path (soft prompts, personas, the graph), so LoRA experts run on one PEFT copy of the
base model, built once on first use (`LoraHost`) and owned by the registry
(`ExpertRegistry.lora_host()`), so the committee and the runner share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from manyshores.experts.lora.config import LoraExpertConfig
from manyshores.experts.types import KindCapabilities

if TYPE_CHECKING:
    import torch

    from manyshores.experts.store import ExpertManifest
    from manyshores.experts.types import ExpertInfo
    from manyshores.runtime.base_model import BaseModel


def peft_config(cfg: LoraExpertConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        target_modules=list(cfg.target_modules),
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )


def peft_copy(base_model: Any, cfg: LoraExpertConfig, adapter_name: str = "default") -> Any:
    """A PEFT-wrapped deep copy of `base_model` with one LoRA adapter (the original is untouched).

    Quiet about PEFT's use of transformers' deprecated `is_gradient_checkpointing`: a library
    warning the user can do nothing about, printed once per wrapped model."""
    import copy
    import warnings

    from peft import get_peft_model

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        return get_peft_model(
            copy.deepcopy(base_model), peft_config(cfg), adapter_name=adapter_name
        )


def adapter_weights(model: Any) -> dict[str, torch.Tensor]:
    """A detached copy of a PEFT model's LoRA weights (what the expert store saves)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}


def config_from(hp: dict[str, Any]) -> LoraExpertConfig:
    known = LoraExpertConfig.__dataclass_fields__
    return LoraExpertConfig(**{k: v for k, v in hp.items() if k in known})


@dataclass
class LoraExpert:
    """Low-rank adapter weights (PEFT state-dict names without the adapter name)."""

    info: ExpertInfo
    """Registry entry."""
    config: LoraExpertConfig
    """Its hyperparameters."""
    weights: dict[str, torch.Tensor]
    """`base_model.model.<module>.lora_A.weight` style names to tensors."""

    kind = "lora"
    capabilities = KindCapabilities(
        shares_prefix=False,
        mixed_batch=True,  # PEFT runs different adapters per row (`adapter_names`)
        on_lora_host=True,
        trainer="manyshores.experts.lora.train:train_lora",
    )

    @staticmethod
    def expected_shapes(base: BaseModel, hp: dict[str, Any]) -> dict[str, list[int]] | None:
        """The LoRA tensors PEFT makes for these hyperparameters on `base`, read from the base's
        linear layers (a PEFT probe would deep-copy the whole base model for every load)."""
        import torch

        cfg = config_from(hp)
        shapes: dict[str, list[int]] = {}
        for name, module in base.model.named_modules():
            leaf = name.rsplit(".", 1)[-1]
            if isinstance(module, torch.nn.Linear) and leaf in cfg.target_modules:
                shapes[f"base_model.model.{name}.lora_A.weight"] = [cfg.r, module.in_features]
                shapes[f"base_model.model.{name}.lora_B.weight"] = [module.out_features, cfg.r]
        return shapes

    @classmethod
    def from_tensors(
        cls, info: ExpertInfo, manifest: ExpertManifest, tensors: dict[str, torch.Tensor]
    ) -> LoraExpert:
        return cls(info=info, config=config_from(manifest.hyperparameters), weights=tensors)


@dataclass
class LoraHost:
    """A PEFT copy of the base model holding every LoRA expert loaded so far."""

    base: BaseModel
    """The shared base (never modified)."""
    model: Any = None
    """The PeftModel copy, built on first use."""
    loaded: set[str] = field(default_factory=set)
    """Adapter names already loaded."""

    def ensure(self, experts: list[LoraExpert]) -> Any:
        from peft import set_peft_model_state_dict

        for ex in experts:
            name = _adapter_name(ex.info.id)
            if name in self.loaded:
                continue
            if self.model is None:
                self.model = peft_copy(self.base.model, ex.config, adapter_name=name)
            else:
                self.model.add_adapter(name, peft_config(ex.config))
            set_peft_model_state_dict(self.model, ex.weights, adapter_name=name)
            self.loaded.add(name)
        self.model.eval()
        return self.model

    def activate(self, expert: LoraExpert) -> Any:
        """The PEFT copy with `expert`'s adapter as the active one (for generation)."""
        model = self.ensure([expert])
        model.set_adapter(_adapter_name(expert.info.id))
        return model


def _adapter_name(expert_id: str) -> str:
    # PEFT adapter names become module attribute keys: no dots.
    return expert_id.replace(".", "_")


def adapter_names(experts: list[LoraExpert]) -> list[str]:
    return [_adapter_name(e.info.id) for e in experts]
