"""What the agent answers when a tool server asks the user for input (MCP elicitation).

The agent works unattended between the user's turns, so nobody fills in a form in the middle of
a tool call. A form whose every required field has a default is accepted with the defaults
filled in (SEP-1034: a client applies the schema's defaults to fields the user leaves alone), so
a server that asks "go ahead with these settings?" gets its own defaults back. Any other form,
and every URL-mode request (sign in, pay, open a page), is declined; the server then tells the
model it could not proceed, which the model can pass on to the user.
"""

from __future__ import annotations

from typing import Any

from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult

Value = str | int | float | bool | list[str] | None


def defaults_of(schema: dict[str, Any]) -> dict[str, Value] | None:
    """The schema's defaults for every property that has one, or ``None`` when a required
    property has no default (the form cannot be completed without a person)."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    values: dict[str, Value] = {}
    for name, prop in properties.items():
        if isinstance(prop, dict) and "default" in prop and _is_value(prop["default"]):
            values[name] = prop["default"]
        elif name in required:
            return None
    return values


def _is_value(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return value is None or isinstance(value, str | int | float | bool)


async def answer_elicitation(
    context: ClientRequestContext, params: ElicitRequestParams
) -> ElicitResult:
    """The ``elicitation_callback`` the hub gives every client it creates."""
    if isinstance(params, ElicitRequestFormParams):
        values = defaults_of(params.requested_schema)
        if values is not None:
            return ElicitResult(action="accept", content=values)
    return ElicitResult(action="decline")


__all__ = ["answer_elicitation", "defaults_of"]
