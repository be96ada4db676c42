"""Wire contracts of the OpenAI Responses API: input items, output items, requests, the
response object, stream events and error bodies.

Everything here is a ``TypedDict``: at run time a request is a plain ``dict`` that goes
straight to ``json.dumps`` and an event is whatever ``json.loads`` returned. That is
deliberate. The official SDK converts every input item through its own models, which costs
about 0.45 ms per item; toolwire serializes requests itself and only wants mypy to check the
field names. When a test or a debugging session wants real validation it asks one of the
cached pydantic adapters at the bottom of this module; the hot path never does.

The same shapes serve every transport: HTTP bodies, SSE ``data:`` payloads, and WebSocket
frames (which add ``stream_id`` and, for errors, a nested ``error`` object with ``status``).
Only the items and fields toolwire produces or consumes are modelled in detail; the sets of
known type names list the rest so that validators can tell "unknown" from "not modelled".
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal, NotRequired, Required, TypeAlias

from pydantic import Discriminator, Field, Tag, TypeAdapter
from typing_extensions import TypedDict

# ---------------------------------------------------------------------------------------
# Names and patterns
# ---------------------------------------------------------------------------------------

TOOL_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""Function tool names the API accepts (also used for ``function_call`` items)."""

ItemStatus: TypeAlias = Literal["in_progress", "completed", "incomplete"]
Role: TypeAlias = Literal["user", "assistant", "system", "developer"]
ResponseStatus: TypeAlias = Literal[
    "completed", "failed", "in_progress", "cancelled", "queued", "incomplete"
]

KNOWN_INPUT_ITEM_TYPES: frozenset[str] = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "reasoning",
        "compaction",
        "compaction_trigger",
        "item_reference",
        "custom_tool_call",
        "custom_tool_call_output",
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "code_interpreter_call",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_call",
        "tool_search_call",
        "tool_search_output",
        "additional_tools",
        "configuration_update",
        "program",
        "program_output",
    }
)
"""Every ``type`` an input item may carry (from the API reference). A message may also omit
``type`` altogether and be recognised by its ``role``."""

MODEL_ITEM_TYPES: frozenset[str] = frozenset(
    {
        "function_call",
        "reasoning",
        "custom_tool_call",
        "web_search_call",
        "file_search_call",
        "computer_call",
        "code_interpreter_call",
        "image_generation_call",
        "local_shell_call",
        "shell_call",
        "apply_patch_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "tool_search_call",
        "program",
    }
)
"""Item types only the model produces. Together with assistant messages they are what a
client echoes back from earlier responses; everything else in an input is new context."""

TOOL_OUTPUT_ITEM_TYPES: frozenset[str] = frozenset(
    {"function_call_output", "custom_tool_call_output"}
)

INCLUDE_REASONING_ENCRYPTED = "reasoning.encrypted_content"
"""The ``include`` value that makes reasoning items carry ``encrypted_content`` — needed to
replay reasoning statelessly (``store: false``)."""

# ---------------------------------------------------------------------------------------
# Content parts
# ---------------------------------------------------------------------------------------


class InputText(TypedDict):
    type: Literal["input_text"]
    text: str


class InputImage(TypedDict, total=False):
    type: Required[Literal["input_image"]]
    detail: Literal["low", "high", "auto"]
    image_url: str | None
    file_id: str | None


class InputFile(TypedDict, total=False):
    type: Required[Literal["input_file"]]
    file_id: str | None
    file_data: str
    file_url: str
    filename: str


class OutputText(TypedDict, total=False):
    type: Required[Literal["output_text"]]
    text: Required[str]
    annotations: list[dict[str, Any]]
    logprobs: list[dict[str, Any]]


class Refusal(TypedDict):
    type: Literal["refusal"]
    refusal: str


class SummaryText(TypedDict):
    type: Literal["summary_text"]
    text: str


class ReasoningText(TypedDict):
    type: Literal["reasoning_text"]
    text: str


InputContent: TypeAlias = Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]
OutputContent: TypeAlias = Annotated[OutputText | Refusal, Field(discriminator="type")]
MessageContent: TypeAlias = Annotated[
    InputText | InputImage | InputFile | OutputText | Refusal, Field(discriminator="type")
]

# ---------------------------------------------------------------------------------------
# Items
# ---------------------------------------------------------------------------------------


class Message(TypedDict, total=False):
    """A message in an input: the user's turn, a system or developer instruction, or an
    assistant message echoed back. ``type`` may be omitted and ``content`` may be a plain
    string (the API's "easy input message")."""

    type: Literal["message"]
    role: Required[Role]
    content: Required[str | list[MessageContent]]
    id: str
    status: ItemStatus
    phase: Literal["commentary", "final_answer"] | None


class OutputMessage(TypedDict, total=False):
    """An assistant message as the model emits it."""

    type: Required[Literal["message"]]
    id: Required[str]
    role: Required[Literal["assistant"]]
    status: Required[ItemStatus]
    content: Required[list[OutputContent]]
    phase: Literal["commentary", "final_answer"] | None


class FunctionCall(TypedDict, total=False):
    """The model asks the client to run a function tool; ``arguments`` is a JSON string
    (not guaranteed to be valid JSON)."""

    type: Required[Literal["function_call"]]
    call_id: Required[str]
    name: Required[str]
    arguments: Required[str]
    id: str
    status: ItemStatus
    namespace: str | None


class FunctionCallOutput(TypedDict, total=False):
    """The client's answer to a ``function_call`` with the same ``call_id``."""

    type: Required[Literal["function_call_output"]]
    call_id: Required[str]
    output: Required[str | list[InputContent]]
    id: str
    status: ItemStatus


class ReasoningItem(TypedDict, total=False):
    """The model's reasoning: a readable summary, plus an opaque ``encrypted_content`` that
    lets a stateless client hand the reasoning back on the next turn."""

    type: Required[Literal["reasoning"]]
    id: Required[str]
    summary: Required[list[SummaryText]]
    encrypted_content: str | None
    content: list[ReasoningText]
    status: ItemStatus


class CompactionItem(TypedDict, total=False):
    """Produced by ``POST /v1/responses/compact``: everything before it, condensed into an
    opaque blob the model understands when the item is sent back."""

    type: Required[Literal["compaction"]]
    encrypted_content: Required[str]
    id: str
    created_by: str | None


class ItemReference(TypedDict, total=False):
    type: Literal["item_reference"]
    id: Required[str]


def _input_item_tag(value: Any) -> str | None:
    """Discriminate input items by ``type``; a message may leave ``type`` out."""
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None and "role" in value:
            return "message"
        return kind if isinstance(kind, str) else None
    return None


InputItem: TypeAlias = Annotated[
    Annotated[Message, Tag("message")]
    | Annotated[FunctionCall, Tag("function_call")]
    | Annotated[FunctionCallOutput, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[CompactionItem, Tag("compaction")]
    | Annotated[ItemReference, Tag("item_reference")],
    Discriminator(_input_item_tag),
]
"""The input items toolwire sends. (The API knows more; see ``KNOWN_INPUT_ITEM_TYPES``.)"""

OutputItem: TypeAlias = Annotated[
    OutputMessage | FunctionCall | ReasoningItem | CompactionItem,
    Field(discriminator="type"),
]
"""The output items toolwire handles."""

# ---------------------------------------------------------------------------------------
# Tools and requests
# ---------------------------------------------------------------------------------------


class FunctionTool(TypedDict, total=False):
    type: Required[Literal["function"]]
    name: Required[str]
    description: str | None
    parameters: dict[str, Any] | None
    strict: bool | None


class ReasoningConfig(TypedDict, total=False):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None
    summary: Literal["auto", "concise", "detailed"] | None


class ResponseCreateRequest(TypedDict, total=False):
    """Body of ``POST /v1/responses``."""

    model: Required[str]
    input: str | list[InputItem]
    instructions: str | None
    tools: list[FunctionTool]
    tool_choice: str | dict[str, Any]
    parallel_tool_calls: bool | None
    previous_response_id: str | None
    store: bool | None
    stream: bool | None
    include: list[str] | None
    prompt_cache_key: str | None
    prompt_cache_retention: Literal["in_memory", "24h"] | None
    reasoning: ReasoningConfig | None
    text: dict[str, Any] | None
    max_output_tokens: int | None
    metadata: dict[str, str] | None
    temperature: float | None
    top_p: float | None
    truncation: Literal["auto", "disabled"] | None
    service_tier: str | None
    user: str
    safety_identifier: str


class WsResponseCreate(ResponseCreateRequest, total=False):
    """A ``response.create`` frame on the WebSocket: the HTTP body without ``stream`` and
    ``background``, plus ``generate`` (``false`` = warm up without output) and the optional
    lane ``stream_id``."""

    type: Required[Literal["response.create"]]
    generate: bool
    stream_id: str


class CompactRequest(TypedDict, total=False):
    """Body of ``POST /v1/responses/compact``."""

    model: Required[str]
    input: str | list[InputItem]
    instructions: str | None
    previous_response_id: str | None
    prompt_cache_key: str | None


# ---------------------------------------------------------------------------------------
# The response object
# ---------------------------------------------------------------------------------------


class InputTokensDetails(TypedDict, total=False):
    cached_tokens: Required[int]
    cache_write_tokens: int


class OutputTokensDetails(TypedDict):
    reasoning_tokens: int


class Usage(TypedDict):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseError(TypedDict, total=False):
    """``response.error`` of a failed response."""

    code: Required[str]
    message: Required[str]
    param: str | None
    type: str | None


class IncompleteDetails(TypedDict):
    reason: str | None


class Response(TypedDict, total=False):
    id: Required[str]
    object: Required[Literal["response"]]
    created_at: Required[float]
    status: Required[ResponseStatus]
    model: Required[str]
    output: Required[list[OutputItem]]
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    instructions: str | list[InputItem] | None
    tools: list[FunctionTool]
    tool_choice: str | dict[str, Any]
    parallel_tool_calls: bool
    previous_response_id: str | None
    store: bool
    usage: Usage | None
    prompt_cache_key: str | None
    reasoning: ReasoningConfig | None
    text: dict[str, Any]
    max_output_tokens: int | None
    metadata: dict[str, str]
    temperature: float | None
    top_p: float | None
    truncation: str | None
    completed_at: float | None


class CompactedResponse(TypedDict):
    """Result of ``POST /v1/responses/compact``: the user messages followed by one
    ``compaction`` item; send ``output`` as the next request's input."""

    id: str
    object: Literal["response.compaction"]
    created_at: int
    output: list[Message | CompactionItem]
    usage: Usage


# ---------------------------------------------------------------------------------------
# Stream events (SSE ``data:`` payloads and WebSocket frames)
# ---------------------------------------------------------------------------------------


class _Event(TypedDict):
    sequence_number: int
    stream_id: NotRequired[str]
    """Present on WebSocket frames whose ``response.create`` named a lane."""


class ResponseCreatedEvent(_Event):
    type: Literal["response.created"]
    response: Response


class ResponseQueuedEvent(_Event):
    type: Literal["response.queued"]
    response: Response


class ResponseInProgressEvent(_Event):
    type: Literal["response.in_progress"]
    response: Response


class ResponseCompletedEvent(_Event):
    type: Literal["response.completed"]
    response: Response


class ResponseFailedEvent(_Event):
    type: Literal["response.failed"]
    response: Response


class ResponseIncompleteEvent(_Event):
    type: Literal["response.incomplete"]
    response: Response


class OutputItemAddedEvent(_Event):
    type: Literal["response.output_item.added"]
    output_index: int
    item: OutputItem


class OutputItemDoneEvent(_Event):
    type: Literal["response.output_item.done"]
    output_index: int
    item: OutputItem


class ContentPartAddedEvent(_Event):
    type: Literal["response.content_part.added"]
    item_id: str
    output_index: int
    content_index: int
    part: OutputContent


class ContentPartDoneEvent(_Event):
    type: Literal["response.content_part.done"]
    item_id: str
    output_index: int
    content_index: int
    part: OutputContent


class OutputTextDeltaEvent(_Event):
    type: Literal["response.output_text.delta"]
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[dict[str, Any]]


class OutputTextDoneEvent(_Event):
    type: Literal["response.output_text.done"]
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[dict[str, Any]]


class RefusalDeltaEvent(_Event):
    type: Literal["response.refusal.delta"]
    item_id: str
    output_index: int
    content_index: int
    delta: str


class RefusalDoneEvent(_Event):
    type: Literal["response.refusal.done"]
    item_id: str
    output_index: int
    content_index: int
    refusal: str


class FunctionCallArgumentsDeltaEvent(_Event):
    type: Literal["response.function_call_arguments.delta"]
    item_id: str
    output_index: int
    delta: str


class FunctionCallArgumentsDoneEvent(_Event):
    type: Literal["response.function_call_arguments.done"]
    item_id: str
    output_index: int
    arguments: str
    name: NotRequired[str]


class ReasoningSummaryPartAddedEvent(_Event):
    type: Literal["response.reasoning_summary_part.added"]
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText


class ReasoningSummaryPartDoneEvent(_Event):
    type: Literal["response.reasoning_summary_part.done"]
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText


class ReasoningSummaryTextDeltaEvent(_Event):
    type: Literal["response.reasoning_summary_text.delta"]
    item_id: str
    output_index: int
    summary_index: int
    delta: str


class ReasoningSummaryTextDoneEvent(_Event):
    type: Literal["response.reasoning_summary_text.done"]
    item_id: str
    output_index: int
    summary_index: int
    text: str


class ErrorEvent(_Event):
    """An error inside an SSE stream (flat shape)."""

    type: Literal["error"]
    code: str | None
    message: str
    param: str | None


class WsErrorDetail(TypedDict, total=False):
    type: Required[str]
    code: Required[str | None]
    message: Required[str]
    param: Required[str | None]
    headers: dict[str, str]


class WsErrorEvent(TypedDict):
    """An error on the WebSocket (nested shape with the HTTP-equivalent ``status``), e.g.
    ``previous_response_not_found`` or ``websocket_connection_limit_reached``. Errors raised
    before a response starts carry no ``sequence_number``."""

    type: Literal["error"]
    status: int
    error: WsErrorDetail
    sequence_number: NotRequired[int]
    stream_id: NotRequired[str]


_StreamEventMembers: TypeAlias = (
    ResponseCreatedEvent
    | ResponseQueuedEvent
    | ResponseInProgressEvent
    | ResponseCompletedEvent
    | ResponseFailedEvent
    | ResponseIncompleteEvent
    | OutputItemAddedEvent
    | OutputItemDoneEvent
    | ContentPartAddedEvent
    | ContentPartDoneEvent
    | OutputTextDeltaEvent
    | OutputTextDoneEvent
    | RefusalDeltaEvent
    | RefusalDoneEvent
    | FunctionCallArgumentsDeltaEvent
    | FunctionCallArgumentsDoneEvent
    | ReasoningSummaryPartAddedEvent
    | ReasoningSummaryPartDoneEvent
    | ReasoningSummaryTextDeltaEvent
    | ReasoningSummaryTextDoneEvent
)

StreamEvent: TypeAlias = Annotated[_StreamEventMembers | ErrorEvent, Field(discriminator="type")]
"""What ``POST /v1/responses`` with ``stream: true`` sends, one per SSE ``data:`` line."""

WsServerEvent: TypeAlias = Annotated[
    _StreamEventMembers | WsErrorEvent, Field(discriminator="type")
]
"""What the WebSocket sends, one JSON object per text frame."""

LIFECYCLE_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
    }
)
TERMINAL_EVENT_TYPES: frozenset[str] = frozenset(
    {"response.completed", "response.failed", "response.incomplete", "error"}
)
"""After one of these, no more events belong to the response."""

# ---------------------------------------------------------------------------------------
# Error bodies
# ---------------------------------------------------------------------------------------


class ErrorObject(TypedDict):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(TypedDict):
    """The body of every non-2xx HTTP answer: ``{"error": {message, type, param, code}}``."""

    error: ErrorObject


# ---------------------------------------------------------------------------------------
# Validation on demand
# ---------------------------------------------------------------------------------------


@cache
def stream_event_adapter() -> TypeAdapter[StreamEvent]:
    """Validator for SSE payloads (built on first use: building costs milliseconds)."""
    return TypeAdapter(StreamEvent)


@cache
def ws_event_adapter() -> TypeAdapter[WsServerEvent]:
    """Validator for WebSocket server frames."""
    return TypeAdapter(WsServerEvent)


@cache
def input_item_adapter() -> TypeAdapter[InputItem]:
    return TypeAdapter(InputItem)


@cache
def response_adapter() -> TypeAdapter[Response]:
    return TypeAdapter(Response)


@cache
def error_body_adapter() -> TypeAdapter[ErrorBody]:
    return TypeAdapter(ErrorBody)
