"""Connect to a tool server the way a client does and call its tools, in a line or two of test.

    async with connect(create_server(settings)) as tools:           # in-process
    async with connect(["python", "-m", "my_server", "--root", d]) as tools:   # stdio subprocess
    async with connect("http://127.0.0.1:8765/mcp", headers=...) as tools:      # streamable HTTP
        result = await tools.call("git_log", limit=5)
        assert not result.is_error, result.text
        assert result.data["output"]

Every form goes through the real MCP client (``mcp.Client``), so what a test sees is what any
client sees: schemas as published, arguments validated by the server, errors as ``isError``
results. ``mode="legacy"`` forces the initialize handshake; ``"auto"`` (the default) uses the
2026-07-28 protocol where the server speaks it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ImageContent, TextContent, Tool

Mode = Literal["auto", "legacy"]
Target = MCPServer[Any] | Sequence[str] | str | StdioServerParameters


class ToolCallError(AssertionError):
    """Raised by :meth:`ToolOutcome.ok` when the tool answered with ``isError``."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """One tool result, with the parts a test usually asserts on."""

    name: str
    result: CallToolResult

    @property
    def is_error(self) -> bool:
        return bool(self.result.is_error)

    @property
    def text(self) -> str:
        """The text blocks, joined by newlines (what a model reads)."""
        return "\n".join(b.text for b in self.result.content if isinstance(b, TextContent))

    @property
    def data(self) -> dict[str, Any]:
        """``structuredContent`` (empty when the tool sent none)."""
        return dict(self.result.structured_content or {})

    @property
    def images(self) -> list[ImageContent]:
        return [b for b in self.result.content if isinstance(b, ImageContent)]

    def ok(self) -> ToolOutcome:
        """Return self, or raise :class:`ToolCallError` with the tool's error text."""
        if self.is_error:
            raise ToolCallError(f"{self.name} failed: {self.text}")
        return self


class ToolSession:
    """A connected server: list its tools and call them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        """The underlying ``mcp.Client``, for anything beyond tools (resources, prompts...)."""

    async def tools(self) -> list[Tool]:
        """Every tool, following pagination."""
        found: list[Tool] = []
        cursor: str | None = None
        while True:
            page = await self.client.list_tools(cursor=cursor)
            found.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return found

    async def tool_names(self) -> list[str]:
        return [tool.name for tool in await self.tools()]

    async def call(
        self, name: str, arguments: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> ToolOutcome:
        """Call ``name`` with ``arguments`` and/or keyword arguments (merged)."""
        merged = {**(arguments or {}), **kwargs}
        return ToolOutcome(name, await self.client.call_tool(name, merged))


def stdio_parameters(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> StdioServerParameters:
    """``["python", "-m", "pkg", ...]`` as the SDK's launch parameters. ``python`` alone means
    this interpreter, so a test runs the server with the packages it sees itself."""
    argv = list(command)
    if not argv:
        raise ValueError("empty server command")
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return StdioServerParameters(
        command=argv[0], args=argv[1:], env=dict(env or {}), cwd=str(cwd) if cwd else None
    )


@asynccontextmanager
async def connect(
    target: Target,
    *,
    mode: Mode = "auto",
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    headers: Mapping[str, str] | None = None,
    request_timeout: float | None = 60,
) -> AsyncIterator[ToolSession]:
    """Connect to ``target``: an ``MCPServer`` (in-process), a command (stdio subprocess, killed
    on exit), or an ``http(s)://`` URL (streamable HTTP, with optional ``headers``).

    ``request_timeout`` bounds each request's wait for an answer (``None``: no limit).
    """
    if isinstance(target, str):
        async with (
            httpx2.AsyncClient(
                headers=dict(headers or {}), timeout=httpx2.Timeout(30, read=300)
            ) as http,
            Client(
                streamable_http_client(target, http_client=http),
                mode=mode,
                read_timeout_seconds=request_timeout,
            ) as client,
        ):
            yield ToolSession(client)
        return
    server: MCPServer[Any] | StdioServerParameters
    if isinstance(target, MCPServer | StdioServerParameters):
        server = target
    else:
        server = stdio_parameters(target, env=env, cwd=cwd)
    async with Client(server, mode=mode, read_timeout_seconds=request_timeout) as client:
        yield ToolSession(client)


def describe(tool: Tool) -> str:
    """A tool's contract as compact JSON (name, schemas, annotations): handy in assertion text."""
    return json.dumps(tool.model_dump(mode="json", by_alias=True, exclude_none=True), indent=1)


__all__ = [
    "Mode",
    "Target",
    "ToolCallError",
    "ToolOutcome",
    "ToolSession",
    "connect",
    "describe",
    "stdio_parameters",
]
