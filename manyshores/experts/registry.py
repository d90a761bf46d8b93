"""The adapter registry: which experts exist (shipped, then user store) and loading them.

Search path: experts shipped in the package (`manyshores/data/experts/`), then
`Settings.user_experts_dir`; an id in the user store overrides a shipped one. Weights load lazily
on first use and stay cached (one base model, many experts; switching costs no reload).

API for graph nodes: `ExpertRegistry.from_settings(settings, base)`, `.available()`,
`.for_culture(culture)`, `.get(expert_id)`, `.cultures()`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manyshores.errors import ExpertStoreError
from manyshores.experts.kinds import build_expert, get_kind
from manyshores.experts.store import MANIFEST, expert_dir, load_tensors, read_manifest
from manyshores.experts.types import ExpertInfo
from manyshores.paths import PACKAGE_EXPERTS
from manyshores.survey.decision import Calibration, experts_stamp, read_calibration

if TYPE_CHECKING:
    from manyshores.config import Settings
    from manyshores.experts.lora.model import LoraHost
    from manyshores.runtime.base_model import BaseModel


class ExpertRegistry:
    """Experts found in an ordered list of store directories."""

    def __init__(
        self,
        base: BaseModel | None,
        roots: list[Path],
        user_root: Path | None = None,
        *,
        load_base: Callable[[], BaseModel] | None = None,
        fingerprint: str | None = None,
    ):
        self._base = base
        self._load_base = load_base
        """Loads the base model on first need, when `base` is not given."""
        self._fingerprint = fingerprint
        """The base model's fingerprint when known without loading it (listing experts and
        routing need only this: an open question's routing then loads no model)."""
        self.roots = roots
        self.user_root = user_root
        self._loaded: dict[str, Any] = {}
        self._infos: dict[str, ExpertInfo] | None = None
        self._calibration: Calibration | None = None
        self._lora_host: LoraHost | None = None
        self.skipped: dict[str, str] = {}
        """Expert directories that could not be listed, with the reason."""

    @property
    def base(self) -> BaseModel | None:
        """Base model experts load onto (loaded on first use when only a loader was given);
        None lists experts without loading any."""
        if self._base is None and self._load_base is not None:
            self._base = self._load_base()
        return self._base

    @property
    def fingerprint(self) -> str | None:
        """The base model's fingerprint (None: no base model, every expert listed)."""
        if self._fingerprint is None and (self._base is not None or self._load_base is not None):
            base = self.base
            self._fingerprint = base.fingerprint if base is not None else None
        return self._fingerprint

    @classmethod
    def from_settings(cls, settings: Settings, base: BaseModel | None) -> ExpertRegistry:
        user = settings.user_experts_dir
        return cls(base, [PACKAGE_EXPERTS, user], user_root=user)

    def refresh(self) -> None:
        self._infos = None
        self._calibration = None

    def _scan(self) -> dict[str, ExpertInfo]:
        if self._infos is not None:
            return self._infos
        infos: dict[str, ExpertInfo] = {}
        for root in self.roots:
            if not root.is_dir():
                continue
            for path in sorted(root.iterdir()):
                if not path.is_dir() or path.name.startswith("."):
                    continue
                try:
                    m = read_manifest(path)
                except ExpertStoreError as exc:
                    self.skipped[str(path)] = str(exc)
                    continue
                fingerprint = self.fingerprint
                fingerprint_ok = fingerprint is None or m.base_fingerprint == fingerprint
                if not fingerprint_ok:
                    self.skipped[str(path)] = "made for another base model"
                    continue
                infos[m.id] = ExpertInfo(
                    m.id,
                    m.culture,
                    m.kind,
                    list(m.tasks),
                    path,
                    dict(m.metrics),
                    shipped=root == PACKAGE_EXPERTS,
                )
        self._infos = infos
        return infos

    def available(self, kind: str | None = None) -> list[ExpertInfo]:
        """Experts usable on this base model, optionally of one kind."""
        return [i for i in self._scan().values() if kind is None or i.kind == kind]

    def cultures(self, kind: str | None = None) -> list[str]:
        """Cultures with an expert of their own (joint experts, culture `*`, excluded)."""
        return sorted({i.culture for i in self.available(kind) if i.culture != "*"})

    def for_culture(self, culture: str, kind: str | None = "softprompt") -> ExpertInfo | None:
        """The culture's expert (preferring the user store, then the most recent)."""
        found = [i for i in self.available(kind) if i.culture == culture]
        found.sort(key=lambda i: (not i.shipped, i.id))
        return found[-1] if found else None

    def experts_stamp(self, kind: str = "softprompt") -> str:
        """Identity of the expert set a survey answer would use: the culture experts of `kind`
        this registry resolves (a user expert overriding a shipped one changes it)."""
        manifests = []
        for culture in self.cultures(kind):
            info = self.for_culture(culture, kind)
            if info is not None and info.path is not None:
                manifests.append(info.path / MANIFEST)
        return experts_stamp(manifests)

    def calibration(self) -> Calibration:
        """The combination constants calibrated for this expert set on this base model.

        The user store's calibration wins over the shipped one; one made for another expert set
        or base model is not used, and without a matching one the defaults apply (weight 0:
        survey memory decides whenever it answers; `manyshores experts calibrate` makes one).
        """
        if self._calibration is None:
            stamp = self.experts_stamp()
            found = Calibration()
            for root in reversed(self.roots):
                cal = read_calibration(root) if root.is_dir() else None
                if cal is None or cal.experts_stamp != stamp:
                    continue
                fingerprint = self.fingerprint
                if fingerprint is not None and cal.base_fingerprint != fingerprint:
                    continue
                found = cal
                break
            self._calibration = found
        return self._calibration

    def lora_host(self) -> LoraHost:
        """The one PEFT copy of the base model that every LoRA expert of this registry runs on
        (built on first use: a deep copy of the base costs its size in memory)."""
        if self.base is None:
            raise ExpertStoreError("running a LoRA expert needs a base model")
        if self._lora_host is None:
            from manyshores.experts.lora.model import LoraHost

            self._lora_host = LoraHost(self.base)
        return self._lora_host

    def info(self, expert_id: str) -> ExpertInfo:
        if expert_id.startswith("persona:"):
            return ExpertInfo(expert_id, expert_id.split(":", 1)[1], "persona", ["*"])
        infos = self._scan()
        if expert_id not in infos:
            raise ExpertStoreError(f"no expert {expert_id!r} (see `manyshores experts list`)")
        return infos[expert_id]

    def get(self, expert_id: str) -> Any:
        """The loaded expert (weights checked and cached)."""
        if expert_id in self._loaded:
            return self._loaded[expert_id]
        info = self.info(expert_id)
        spec = get_kind(info.kind)
        if not spec.capabilities.stored:  # a prompt only: nothing to read from the store
            expert: Any = spec.expert_cls(info)
        else:
            if self.base is None:
                raise ExpertStoreError("loading an expert needs a base model")
            assert info.path is not None
            manifest = read_manifest(info.path)
            tensors = load_tensors(info.path, manifest, self.base.fingerprint)
            expert = build_expert(self.base, info, manifest, tensors)
        self._loaded[expert_id] = expert
        return expert

    def remove(self, expert_id: str) -> Path:
        """Delete an expert from the user store (shipped experts are read-only)."""
        if self.user_root is None:
            raise ExpertStoreError("no user store configured")
        path = expert_dir(self.user_root, expert_id)
        if not path.is_dir():
            raise ExpertStoreError(f"no expert {expert_id!r} in the user store {self.user_root}")
        shutil.rmtree(path)
        self._loaded.pop(expert_id, None)
        self.refresh()
        return path
