"""Tool results: plain text for the model, structured content for programs.

A tool annotated ``-> Annotated[CallToolResult, SomeResult]`` publishes ``SomeResult``'s JSON
schema as its ``outputSchema``; returning :func:`tool_result` then sends the model a readable
rendering (numbered lines, a diff, a listing) instead of a JSON dump of the same data, while
clients that want data read ``structuredContent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel

__all__ = ["ToolError", "tool_result"]


def tool_result(
    result: BaseModel,
    text: str,
    *,
    extra: list[ContentBlock] | None = None,
    dumped: Mapping[str, Any] | None = None,
) -> CallToolResult:
    """Wrap a result model and its text rendering (plus optional extra blocks, e.g. images).

    ``dumped`` gives fields already in their JSON form, replacing what the model holds for
    them: a large list built as plain objects skips a validation into models and a dump back
    (the caller's tests hold the objects to the model's schema)."""
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    if extra:
        content.extend(extra)
    structured = result.model_dump(mode="json", by_alias=True)
    if dumped:
        structured.update(dumped)
    return CallToolResult(content=content, structured_content=structured)
