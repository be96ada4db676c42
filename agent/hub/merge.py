"""Many servers' MCP tools -> one ``tools`` array for the Responses API, byte for byte stable.

The prompt cache hits only on an identical prefix, and the ``tools`` array is part of it, so the
same servers must give the same bytes on every turn and every run. Hence: servers in settings
order (bundled first, in a fixed order, then the rest by name), each server's tools sorted by
name (never the order they happened to arrive in), schemas kept exactly as the server wrote
them (property order is what the model sees, so no ``sort_keys``), and one serialization,
done once per change and reused for every request (:attr:`Merged.tools_json`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp_types import Tool, ToolAnnotations

from agent.hub.naming import ToolName, assign
from agent.hub.strict import StrictSchema, make_strict
from schemas.responses import FunctionTool


@dataclass(frozen=True, slots=True)
class ServerTools:
    """One server's contribution: its name, whether it is bundled, its (filtered) tools."""

    server: str
    bundled: bool
    tools: Sequence[Tool]


@dataclass(frozen=True, slots=True)
class ToolEntry:
    """One model-visible tool and everything needed to route a call to it."""

    name: str
    server: str
    original: str
    bundled: bool
    input_schema: dict[str, Any]
    schema: StrictSchema
    annotations: ToolAnnotations | None
    function: FunctionTool

    @property
    def strict(self) -> bool:
        return self.schema.strict


@dataclass(frozen=True, slots=True)
class Merged:
    entries: tuple[ToolEntry, ...]
    by_name: dict[str, ToolEntry]
    tools: list[FunctionTool]
    tools_json: str


EMPTY = Merged((), {}, [], "[]")


def description_of(tool: Tool) -> str:
    """The tool's description, else its title: something for the model to choose by."""
    if tool.description:
        return tool.description
    if tool.title:
        return tool.title
    if tool.annotations is not None and tool.annotations.title:
        return tool.annotations.title
    return ""


def function_tool(name: str, tool: Tool, schema: StrictSchema) -> FunctionTool:
    return {
        "type": "function",
        "name": name,
        "description": description_of(tool),
        "parameters": schema.parameters,
        "strict": schema.strict,
    }


def merge(servers: Sequence[ServerTools], *, strict: bool = True) -> Merged:
    """Name, convert and serialize every tool of ``servers`` (given in their tool order)."""
    ordered: list[tuple[ToolName, Tool]] = []
    for group in servers:
        seen: set[str] = set()
        for tool in sorted(group.tools, key=lambda t: t.name):
            if tool.name in seen:  # a server listing one name twice: the first one wins
                continue
            seen.add(tool.name)
            ordered.append((ToolName(group.server, tool.name, group.bundled), tool))
    names = assign(key for key, _ in ordered)

    entries = []
    for key, tool in ordered:
        schema = (
            make_strict(tool.input_schema) if strict else StrictSchema(tool.input_schema, False)
        )
        name = names[key]
        entries.append(
            ToolEntry(
                name=name,
                server=key.server,
                original=key.original,
                bundled=key.bundled,
                input_schema=tool.input_schema,
                schema=schema,
                annotations=tool.annotations,
                function=function_tool(name, tool, schema),
            )
        )
    tools = [e.function for e in entries]
    return Merged(
        entries=tuple(entries),
        by_name={e.name: e for e in entries},
        tools=tools,
        tools_json=json.dumps(tools, ensure_ascii=False, separators=(",", ":")),
    )
