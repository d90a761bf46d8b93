"""OpenTelemetry export of every turn, as OpenInference spans (Phoenix, Langfuse, any OTLP
backend): a root span per turn and a child span per node.

Off unless `MANYSHORES_OTEL_ENDPOINT` (`http://host:port/v1/traces`) is set; when off nothing
of OpenTelemetry is imported and a node pays one dictionary lookup. Spans are built from what
the node wrapper already records (the state it read, the update it wrote, its duration), with
explicit start and end times, so the export adds no work inside a node. A batching processor
with a bounded queue sends them from a background thread with a short timeout: a slow or
absent collector drops spans, it never fails or holds up a turn.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENDPOINT_ENV = "MANYSHORES_OTEL_ENDPOINT"
PROJECT_ENV = "MANYSHORES_OTEL_PROJECT"
TIMEOUT_ENV = "MANYSHORES_OTEL_TIMEOUT_S"
DEFAULT_PROJECT = "manyshores"
DEFAULT_TIMEOUT_S = 2.0
# Spans waiting for export; past this, new ones are dropped (memory stays bounded when the
# collector is down).
MAX_QUEUE = 2048
# Turns whose root span is open at once (a turn interrupted to ask for the culture stays open
# until resumed); the oldest is ended past this.
MAX_OPEN_TURNS = 256
# Attribute strings longer than this are cut: a span is for reading, the checkpoint keeps all.
MAX_ATTRIBUTE_CHARS = 4000

# OpenInference semantic conventions (the names Phoenix reads), spelled out here so that the
# export needs only the OpenTelemetry SDK and exporter.
SPAN_KIND = "openinference.span.kind"
INPUT_VALUE = "input.value"
INPUT_MIME = "input.mime_type"
OUTPUT_VALUE = "output.value"
OUTPUT_MIME = "output.mime_type"
SESSION_ID = "session.id"
USER_ID = "user.id"
METADATA = "metadata"
LLM_MODEL = "llm.model_name"
LLM_PROMPT_TOKENS = "llm.token_count.prompt"
LLM_COMPLETION_TOKENS = "llm.token_count.completion"
LLM_TOTAL_TOKENS = "llm.token_count.total"
LLM_INPUT_MESSAGES = "llm.input_messages"
LLM_OUTPUT_MESSAGES = "llm.output_messages"
RETRIEVAL_DOCUMENTS = "retrieval.documents"
PROJECT_RESOURCE = "openinference.project.name"

NodeAttributes = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
"""(what a node run read, what it wrote) → the attributes that explain it."""
ChildSpans = Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]
"""What a node run wrote → the child spans it had (name, attributes), started and ended with it."""


@dataclass(frozen=True)
class NodeSpan:
    """How one node's runs become spans. The graph keeps its nodes' table (`graph/spans.py`);
    a node without an entry gets a CHAIN span of what it read and wrote."""

    kind: str = "CHAIN"
    """OpenInference span kind: `CHAIN`, `RETRIEVER` or `LLM`."""
    attributes: NodeAttributes | None = None
    """The node's own attributes, over the common ones (input, output, notes)."""
    children: ChildSpans | None = None
    """Spans under each run's own (the experts of a batch, one each)."""
    opens_turn: bool = False
    """The node starts a turn: its update carries the turn's number, its message is the turn's
    input."""
    ends_turn: bool = False
    """The node ends a turn: its reply is the turn's output and the turn's span is closed."""


CHAIN = NodeSpan()
"""A node's span when the table has none for it."""


@dataclass(frozen=True)
class ExportConfig:
    """Where and how spans go."""

    endpoint: str
    """OTLP/HTTP traces URL, e.g. `http://127.0.0.1:6006/v1/traces`."""
    project: str
    """Project name the backend files the spans under (Phoenix's `openinference.project.name`)."""
    timeout_s: float
    """Per-export timeout, retries included: the most a flush can wait for a dead collector."""


def export_config() -> ExportConfig | None:
    """The export configuration from the environment, or None when export is off."""
    endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
    if not endpoint:
        return None
    try:
        timeout_s = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    except ValueError:
        timeout_s = DEFAULT_TIMEOUT_S
    project = os.environ.get(PROJECT_ENV, "").strip() or DEFAULT_PROJECT
    return ExportConfig(endpoint=endpoint, project=project, timeout_s=max(0.1, timeout_s))


class TurnExporter:
    """Turns node records into spans for one export configuration."""

    def __init__(self, config: ExportConfig) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.config = config
        # A provider of our own, not the global one: an application's own tracing setup is
        # left as it is.
        self.provider = TracerProvider(
            resource=Resource.create(
                {"service.name": "manyshores", PROJECT_RESOURCE: config.project}
            )
        )
        exporter = OTLPSpanExporter(endpoint=config.endpoint, timeout=config.timeout_s)
        self.provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=MAX_QUEUE,
                schedule_delay_millis=500,
                export_timeout_millis=int(config.timeout_s * 1000),
            )
        )
        self.tracer = self.provider.get_tracer("manyshores")
        self._turns: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._secrets = _secret_values()

    # -- spans -----------------------------------------------------------------------------

    def _root(self, thread_id: str, turn: int, state: Any, start_ns: int) -> Any:
        """The turn's root span, started at its first node."""
        key = (thread_id, turn)
        with self._lock:
            span = self._turns.get(key)
            if span is None:
                span = self.tracer.start_span("turn", start_time=start_ns)
                attrs: dict[str, Any] = {
                    SPAN_KIND: "CHAIN",
                    "manyshores.thread_id": thread_id,
                    "manyshores.turn": turn,
                }
                if thread_id:
                    attrs[SESSION_ID] = thread_id
                if state.get("user_id"):
                    attrs[USER_ID] = str(state["user_id"])
                self._set(span, attrs)
                self._turns[key] = span
                while len(self._turns) > MAX_OPEN_TURNS:
                    _, stale = self._turns.popitem(last=False)
                    stale.end()
            return span

    def record(
        self,
        name: str,
        state: Any,
        update: dict[str, Any],
        record: dict[str, Any],
        thread_id: str,
        start_ns: int,
        end_ns: int,
        error: BaseException | None = None,
        spec: NodeSpan = CHAIN,
    ) -> None:
        """One node run: its span under the turn's root; a node that ends the turn (or an
        error) closes the turn's span."""
        from opentelemetry import trace

        wrote = record.get("wrote") or {}
        turn = int(record.get("turn") or state.get("turn") or 0)
        if spec.opens_turn:
            turn = int(update.get("turn", turn))
        root = self._root(thread_id, turn, state, start_ns)
        if spec.opens_turn:
            message = update.get("query") or update.get("text") or state.get("text")
            if message:
                self._set(root, {INPUT_VALUE: message})
        span = self.tracer.start_span(
            name, context=trace.set_span_in_context(root), start_time=start_ns
        )
        attrs = node_attributes(spec, record.get("read") or {}, wrote)
        attrs["manyshores.seconds"] = float(record.get("seconds", 0.0))
        self._set(span, attrs)
        if spec.children is not None:
            self._children(span, spec.children(wrote), start_ns, end_ns)
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)[:200]))
        span.end(end_time=end_ns)
        if spec.ends_turn or error is not None:
            with self._lock:
                finished = self._turns.pop((thread_id, turn), None)
            if finished is not None:
                answer = turn_reply(wrote)
                if answer:
                    self._set(finished, {OUTPUT_VALUE: answer})
                if error is not None:
                    finished.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
                finished.end(end_time=end_ns)

    def _children(
        self,
        parent: Any,
        children: list[tuple[str, dict[str, Any]]],
        start_ns: int,
        end_ns: int,
    ) -> None:
        """Child spans under `parent`, over the same time."""
        from opentelemetry import trace

        if not children:
            return
        context = trace.set_span_in_context(parent)
        for name, attrs in children:
            span = self.tracer.start_span(name, context=context, start_time=start_ns)
            self._set(span, attrs)
            span.end(end_time=end_ns)

    def _set(self, span: Any, attrs: dict[str, Any]) -> None:
        for key, value in attrs.items():
            clean = _attribute(value, self._secrets)
            if clean is not None:
                span.set_attribute(key, clean)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Send what is queued; False when the collector did not take it in time."""
        millis = int((timeout_s if timeout_s is not None else self.config.timeout_s) * 1000)
        return bool(self.provider.force_flush(millis))

    def shutdown(self) -> None:
        with self._lock:
            open_turns = list(self._turns.values())
            self._turns.clear()
        for span in open_turns:
            span.end()
        self.provider.shutdown()


_exporters: dict[ExportConfig, TurnExporter] = {}
_exporters_lock = threading.Lock()


def exporter() -> TurnExporter | None:
    """The exporter for the current environment, or None when export is off."""
    config = export_config()
    if config is None:
        return None
    found = _exporters.get(config)
    if found is not None:
        return found
    with _exporters_lock:
        if config not in _exporters:
            _exporters[config] = TurnExporter(config)
        return _exporters[config]


def flush(timeout_s: float | None = None) -> bool:
    """Send every exporter's queued spans (True when there is nothing to send)."""
    return all(e.flush(timeout_s) for e in list(_exporters.values()))


def record_node(
    name: str,
    state: Any,
    update: dict[str, Any],
    record: dict[str, Any],
    config: Any,
    start_ns: int,
    end_ns: int,
    error: BaseException | None = None,
    spec: NodeSpan = CHAIN,
) -> None:
    """Export one node run when export is on (`spec`: how the node's runs become spans).
    Never raises: tracing must not fail a turn."""
    if not os.environ.get(ENDPOINT_ENV):
        return
    try:
        active = exporter()
        if active is None:
            return
        configurable = (config or {}).get("configurable") or {}
        thread_id = str(configurable.get("thread_id") or "")
        active.record(name, state, update, record, thread_id, start_ns, end_ns, error, spec)
    except Exception:  # noqa: BLE001 - an exporter bug is not the turn's problem
        return


def now_ns() -> int:
    return time.time_ns()


# -- attributes ----------------------------------------------------------------------------


def _secret_values() -> list[str]:
    """Values that must never leave in a span: the configured API keys."""
    values: list[str] = []
    for name, value in os.environ.items():
        upper = name.upper()
        if any(part in upper for part in ("KEY", "TOKEN", "SECRET", "PASSWORD")) and (
            len(value) >= 8
        ):
            values.append(value)
    return values


def _attribute(value: Any, secrets: list[str]) -> Any:
    """An OpenTelemetry attribute value: scalars kept, strings capped and scrubbed, lists of
    strings kept, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [_text(v, secrets) for v in value]
    if isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return [float(v) for v in value]
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return _text(value, secrets)


def _text(value: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in value:
            value = value.replace(secret, "[redacted]")
    if len(value) > MAX_ATTRIBUTE_CHARS:
        value = value[:MAX_ATTRIBUTE_CHARS] + "…"
    return value


def _content(message: Any) -> str:
    if isinstance(message, dict):
        message = message.get("content", "")
    return message if isinstance(message, str) else json.dumps(message, default=str)


def turn_reply(wrote: dict[str, Any]) -> str:
    """The reply a node wrote: its last message, else its answer."""
    messages = wrote.get("messages") or []
    if messages:
        return _content(messages[-1])
    return str(wrote.get("answer") or wrote.get("short") or "")


def node_attributes(spec: NodeSpan, read: dict[str, Any], wrote: dict[str, Any]) -> dict[str, Any]:
    """The attributes that explain one node run, from its trace record: what every node's span
    carries, then the node's own (`spec.attributes`), which may replace them."""
    attrs: dict[str, Any] = {SPAN_KIND: spec.kind}
    attrs[INPUT_VALUE] = json.dumps(read, ensure_ascii=False, default=str)
    attrs[INPUT_MIME] = "application/json"
    attrs[OUTPUT_VALUE] = json.dumps(wrote, ensure_ascii=False, default=str)
    attrs[OUTPUT_MIME] = "application/json"
    if wrote.get("notes"):
        attrs["manyshores.notes"] = [str(n) for n in wrote["notes"]]
    if spec.attributes is not None:
        attrs.update(spec.attributes(read, wrote))
    return attrs


def shutdown() -> None:
    """Flush and stop every exporter (they are rebuilt on the next exported node)."""
    with _exporters_lock:
        active = list(_exporters.values())
        _exporters.clear()
    for e in active:
        e.shutdown()
