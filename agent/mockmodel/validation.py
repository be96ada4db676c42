"""Checking an incoming request the way the real API does, before anything is generated.

A client that works against the mock must not fail against the real service, so the mock
refuses what the service refuses, with the same status (400), error type
(``invalid_request_error``), ``param`` and ``code``: a missing ``model``, an input that is
not a string or a list of objects, an item whose ``type`` the API does not know, a message
with an unknown role, a malformed function call or output, and a function tool whose name
does not match ``^[a-zA-Z0-9_-]{1,64}$``. (Whether a ``function_call_output`` answers a
call in the conversation can only be decided once ``previous_response_id`` is resolved;
see :func:`agent.mockmodel.conversation.scan`.) Input items that an earlier request already
sent byte for byte (see :mod:`agent.mockmodel.parsing`) passed these checks then and are not
checked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agent.mockmodel import errors
from agent.mockmodel.errors import ApiError
from agent.mockmodel.jsontext import dumps
from agent.mockmodel.parsing import KnownInput, Parsed
from schemas.responses import (
    INCLUDE_REASONING_ENCRYPTED,
    KNOWN_INPUT_ITEM_TYPES,
    TOOL_NAME_PATTERN,
)

_ROLES = ("user", "assistant", "system", "developer")
_WS_ONLY_FIELDS = ("type", "generate", "stream_id")
"""Fields of a ``response.create`` frame that ``POST /v1/responses`` does not accept."""


@dataclass(slots=True)
class CreateRequest:
    """A validated ``POST /v1/responses`` body or ``response.create`` frame."""

    body: dict[str, Any]
    model: str
    items: list[dict[str, Any]]
    instructions: object
    tools: list[Any]
    stream: bool
    store: bool
    include_encrypted_reasoning: bool
    previous_response_id: str | None
    prompt_cache_key: str | None
    generate: bool
    stream_id: str | None
    tools_json: str
    """``tools`` as compact JSON, encoded once per distinct array."""
    known_input: KnownInput | None = None
    """An earlier, validated input whose items begin :attr:`items`."""
    input_head: str | None = None
    """The text of the ``input`` array without its closing bracket (to remember it by)."""


def validate_create(parsed: Parsed, *, transport: Literal["http", "ws"]) -> CreateRequest:
    body = parsed.data
    model = body.get("model")
    if model is None:
        raise errors.missing_parameter("model")
    if not isinstance(model, str):
        raise errors.invalid_type("model", "a string", model)

    known = parsed.known_input
    items = _input_items(body.get("input"), checked=len(known.context.items) if known else 0)
    tools = body.get("tools")
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        raise errors.invalid_type("tools", "an array", tools)
    known_tools = parsed.tools
    if known_tools is not None and known_tools.value is not tools:
        known_tools = None  # trust the entry only for the very list in the body
    if known_tools is None or not known_tools.checked:
        for index, tool in enumerate(tools):
            _check_tool(index, tool)
    if known_tools is not None:
        known_tools.checked = True
    tools_json = known_tools.json if known_tools is not None else dumps(tools)

    if transport == "ws" and body.get("background"):
        raise errors.invalid_value(
            "background", "Background responses are not supported over WebSocket."
        )
    if transport == "http":
        for name in _WS_ONLY_FIELDS:
            if name in body:
                raise ApiError(
                    400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )

    previous = body.get("previous_response_id")
    if previous is not None and not isinstance(previous, str):
        raise errors.invalid_type("previous_response_id", "a string", previous)
    cache_key = body.get("prompt_cache_key")
    if cache_key is not None and not isinstance(cache_key, str):
        raise errors.invalid_type("prompt_cache_key", "a string", cache_key)
    include = body.get("include") or []
    if not isinstance(include, list):
        raise errors.invalid_type("include", "an array", include)
    stream_id = body.get("stream_id")
    if stream_id is not None and not isinstance(stream_id, str):
        raise errors.invalid_type("stream_id", "a string", stream_id)

    return CreateRequest(
        body=body,
        model=model,
        items=items,
        instructions=body.get("instructions"),
        tools=tools,
        stream=transport == "ws" or body.get("stream") is True,
        store=body.get("store") is not False,
        include_encrypted_reasoning=INCLUDE_REASONING_ENCRYPTED in include,
        previous_response_id=previous,
        prompt_cache_key=cache_key,
        generate=body.get("generate") is not False,
        stream_id=stream_id,
        tools_json=tools_json,
        known_input=known,
        input_head=parsed.input_head,
    )


def _input_items(value: object, *, checked: int = 0) -> list[dict[str, Any]]:
    """The input as a list of items; the first ``checked`` are known to be valid."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise errors.invalid_type("input", "a string or an array", value)
    for index in range(checked, len(value)):
        _check_item(index, value[index])
    return value


def _check_item(index: int, item: object) -> None:
    where = f"input[{index}]"
    if not isinstance(item, dict):
        raise errors.invalid_type(where, "an object", item)
    kind = item.get("type")
    if kind is None and "role" not in item:
        raise errors.missing_parameter(f"{where}.type")
    if kind is not None and kind not in KNOWN_INPUT_ITEM_TYPES:
        supported = ", ".join(f"'{k}'" for k in sorted(KNOWN_INPUT_ITEM_TYPES))
        raise errors.invalid_value(
            f"{where}.type", f"Invalid value: '{kind}'. Supported values are: {supported}."
        )
    if kind is None or kind == "message":
        _check_message(where, item)
    elif kind == "function_call":
        _require_str(item, where, "call_id", "name", "arguments")
        name = item["name"]
        if not TOOL_NAME_PATTERN.match(name):
            raise _bad_name(f"{where}.name", name)
    elif kind == "function_call_output":
        _require_str(item, where, "call_id")
        output = item.get("output")
        if output is None:
            raise errors.missing_parameter(f"{where}.output")
        if not isinstance(output, str | list):
            raise errors.invalid_type(f"{where}.output", "a string or an array", output)
    elif kind == "reasoning":
        if not isinstance(item.get("summary"), list):
            raise errors.missing_parameter(f"{where}.summary")
    elif kind == "compaction":
        _require_str(item, where, "encrypted_content")
    elif kind == "item_reference":
        _require_str(item, where, "id")


def _check_message(where: str, item: Mapping[str, Any]) -> None:
    role = item.get("role")
    if role is None:
        raise errors.missing_parameter(f"{where}.role")
    if role not in _ROLES:
        supported = ", ".join(f"'{r}'" for r in _ROLES)
        raise errors.invalid_value(
            f"{where}.role", f"Invalid value: '{role}'. Supported values are: {supported}."
        )
    content = item.get("content")
    if content is None:
        raise errors.missing_parameter(f"{where}.content")
    if not isinstance(content, str | list):
        raise errors.invalid_type(f"{where}.content", "a string or an array", content)


def _require_str(item: Mapping[str, Any], where: str, *names: str) -> None:
    for name in names:
        value = item.get(name)
        if value is None:
            raise errors.missing_parameter(f"{where}.{name}")
        if not isinstance(value, str):
            raise errors.invalid_type(f"{where}.{name}", "a string", value)


def _check_tool(index: int, tool: object) -> None:
    where = f"tools[{index}]"
    if not isinstance(tool, dict):
        raise errors.invalid_type(where, "an object", tool)
    if tool.get("type") != "function":
        return  # hosted tools (web_search, ...) are not the mock's business
    name = tool.get("name")
    if name is None:
        raise errors.missing_parameter(f"{where}.name")
    if not isinstance(name, str):
        raise errors.invalid_type(f"{where}.name", "a string", name)
    if not TOOL_NAME_PATTERN.match(name):
        raise _bad_name(f"{where}.name", name)


def _bad_name(param: str, name: str) -> ApiError:
    if len(name) > 64:
        return ApiError(
            400,
            f"Invalid '{param}': string too long. Expected a string with maximum length 64, "
            f"but got a string with length {len(name)} instead.",
            param=param,
            code="string_above_max_length",
        )
    return errors.invalid_value(
        param,
        f"Invalid '{param}': string does not match pattern. Expected a string that matches "
        f"the pattern '{TOOL_NAME_PATTERN.pattern}'.",
    )


def orphan_output(call_id: str) -> ApiError:
    return ApiError(
        400,
        f"No tool call found for function call output with call_id {call_id}.",
        param="input",
    )
