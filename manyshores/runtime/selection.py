"""Which plain-generation runtime the settings ask for: llama.cpp, transformers or a chat model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from manyshores.errors import ModelLoadError
from manyshores.runtime.text import TextRuntime, TransformersText

if TYPE_CHECKING:
    from manyshores.config import Settings
    from manyshores.runtime.base_model import BaseModel

log = logging.getLogger(__name__)


def text_runtime(
    settings: Settings, base: BaseModel | Callable[[], BaseModel], spec: str | None = None
) -> TextRuntime:
    """The plain-generation runtime the settings ask for. `auto` (the default) takes llama.cpp
    when its binding is installed and the base model is a GGUF file (the default one is), and
    the transformers loop otherwise, or when llama.cpp cannot load the file (logged).

    `base` is the loaded base model or a function loading it (called only by the transformers
    runtime); `spec`, the base model's spec when `base` is not loaded yet."""
    from manyshores.runtime import llamacpp

    if settings.chat_model:
        from manyshores.runtime.chat_text import ChatModelText

        # The base model's own runtime stays the fallback, built only when it is needed.
        local = settings.model_copy(update={"chat_model": None})
        return ChatModelText.from_settings(settings, lambda: text_runtime(local, base, spec))
    if spec is None:
        spec = base.spec if not callable(base) else settings.base_model
    choice = settings.text_runtime
    gguf = _gguf_for(spec)  # the model actually loaded, which a caller may have given
    if choice == "auto":
        if gguf is None or not llamacpp.available():
            return TransformersText(base)
        try:
            return llamacpp.LlamaCppText(gguf, _threads(settings))
        except ModelLoadError as exc:
            log.warning("llama.cpp unavailable, generating with transformers: %s", exc)
            return TransformersText(base)
    if choice == "transformers":
        return TransformersText(base)
    if gguf is None:
        raise ModelLoadError(
            "MANYSHORES_TEXT_RUNTIME=llama_cpp needs a GGUF base model (the default, or a "
            f".gguf path); {spec!r} is not one"
        )
    return llamacpp.LlamaCppText(gguf, _threads(settings))


def _threads(settings: Settings) -> int:
    from manyshores.threads import thread_count

    return thread_count(settings)


def _gguf_for(spec: str) -> str | None:
    from manyshores.runtime.base_model import default_gguf_path

    if spec == "default":
        try:
            return str(default_gguf_path())
        except ModelLoadError:
            return None
    return spec if spec.endswith(".gguf") else None
