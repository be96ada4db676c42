"""A tool server that misbehaves on request, for the hub's tests.

    python tests/hub/servers/misbehave.py [--mode MODE] [--marker FILE] [--page-size N]
                                          [--http --port 0]

``--legacy`` refuses ``server/discover``, so clients use the initialize handshake.

Modes: ``serve`` (a working server whose tools can crash it, hang, flood, fail or change the
tool list), ``hang`` (never answers initialize, ignores stdin), ``exit`` (dies at once with
code 3 and a message on stderr), ``garbage`` (writes non-JSON on stdout and never answers),
``noisy`` (one garbage line on stdout, then serves normally).

The MCP SDK is imported only in ``serve`` mode, so the broken modes misbehave at once instead
of after half a second of imports.

Run by file path, not ``-m``: the hub starts servers in the workspace directory, where the
``tests`` package is not importable.
"""

import argparse
import base64
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()

LONG_NAME = "a_tool_whose_name_goes_on_and_on_far_beyond_the_sixty_four_characters_allowed"


class Item(BaseModel):
    name: str
    count: int = 1


def note(marker: Path | None, text: str) -> None:
    if marker is not None:
        with marker.open("a") as f:
            f.write(text + "\n")


# No ``from __future__ import annotations`` here: the tools are defined inside build(), after
# the lazy imports, and MCPServer reads their (eagerly evaluated) annotations.
def build(marker: Path | None) -> "MCPServer[Any]":
    import anyio
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import CallToolResult, ImageContent, TextContent

    server: MCPServer[Any] = MCPServer("misbehave", log_level="WARNING")

    @server.tool()
    async def echo(text: str) -> str:
        """Return the text."""
        return text

    @server.tool()
    async def noop() -> str:
        """Do nothing."""
        return "ok"

    @server.tool()
    async def crash() -> str:
        """Exit the server process in the middle of the call."""
        print("about to crash: simulated failure", file=sys.stderr, flush=True)
        os._exit(7)

    @server.tool()
    async def huge(size: int) -> str:
        """Return ``size`` bytes of numbered lines."""
        line = "x" * 90
        count = size // 100 + 1
        return "".join(f"{n:08d} {line}\n" for n in range(count))[:size]

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, noting in the marker file when it starts and when it is cancelled."""
        note(marker, "started")
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            note(marker, "cancelled")
            raise
        note(marker, "finished")
        return "slept"

    @server.tool()
    async def fail() -> str:
        """Fail the way a tool should: with a ToolError."""
        raise ToolError("the frobnicator is out of order")

    @server.tool()
    async def image() -> CallToolResult:
        """Text, then an image, then text."""
        return CallToolResult(
            content=[
                TextContent(type="text", text="before"),
                ImageContent(type="image", data=PNG, mime_type="image/png"),
                TextContent(type="text", text="after"),
            ]
        )

    @server.tool()
    async def structured() -> CallToolResult:
        """Structured content only."""
        return CallToolResult(content=[], structured_content={"answer": 42, "unit": "ä"})

    @server.tool()
    async def reading(valid: bool = True) -> CallToolResult:
        """A temperature reading; ``valid=false`` breaks the published output schema."""
        value: Any = 21 if valid else "warm"
        return CallToolResult(
            content=[TextContent(type="text", text=f"{value} C")],
            structured_content={"value": value, "unit": "C"},
        )

    # Published without a model, so the server sends whatever the tool returns and the
    # client's own check is what catches a broken result.
    reading_tool = server._tool_manager.get_tool("reading")
    assert reading_tool is not None
    reading_tool.fn_metadata.output_schema = {
        "type": "object",
        "properties": {"value": {"type": "integer"}, "unit": {"type": "string"}},
        "required": ["value", "unit"],
    }

    @server.tool()
    async def optional_args(
        path: Annotated[str, Field(description="where")],
        depth: Annotated[int, Field(description="how deep", ge=1)] = 2,
        note_text: str | None = None,
        item: Item | None = None,
        items: list[Item] | None = None,
        mode: Literal["fast", "slow"] = "fast",
    ) -> str:
        """Echo the arguments the server received, as JSON."""
        return json.dumps(
            {
                "path": path,
                "depth": depth,
                "note_text": note_text,
                "item": item.model_dump() if item else None,
                "items": [i.model_dump() for i in items] if items is not None else None,
                "mode": mode,
            },
            sort_keys=True,
        )

    @server.tool()
    async def open_args(labels: dict[str, str]) -> str:
        """Takes an open-ended object: cannot be strict."""
        return json.dumps(labels, sort_keys=True)

    @server.tool(name=LONG_NAME)
    async def long_named() -> str:
        """A tool whose name is too long for the Responses API."""
        return "long"

    @server.tool()
    async def add_tool(name: str, ctx: Context) -> str:
        """Add a tool called ``name`` and announce that the tool list changed."""

        async def added() -> str:
            return f"I am {name}"

        server.add_tool(added, name=name, description=f"added at run time: {name}")
        with contextlib.suppress(Exception):
            await ctx.notify_tools_changed()  # 2026-07-28 listeners
        with contextlib.suppress(Exception):
            await ctx.session.send_tool_list_changed()  # handshake-era sessions
        return f"added {name}"

    return server


def paginate(server: "MCPServer[Any]", page_size: int) -> None:
    """Serve tools/list in pages of ``page_size`` (cursor = index of the next tool)."""

    import mcp_types as types

    async def handler(ctx: Any, params: types.PaginatedRequestParams) -> "types.ListToolsResult":
        tools = await server.list_tools()
        start = int(params.cursor or 0)
        end = start + page_size
        return types.ListToolsResult(
            tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None
        )

    server._lowlevel_server.add_request_handler("tools/list", types.PaginatedRequestParams, handler)


async def serve_legacy_stdio(server: "MCPServer[Any]") -> None:
    """Serve stdio as a server predating 2026-07-28 does: ``server/discover`` is an unknown
    method (answered with an error, never seen by the SDK), so clients fall back to the
    initialize handshake."""
    import anyio
    import mcp_types as types
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    async with stdio_server() as (read, write):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def without_discover() -> None:
            async with send:
                async for item in read:
                    message = getattr(item, "message", None)
                    if isinstance(message, types.JSONRPCRequest) and (
                        message.method == "server/discover"
                    ):
                        error = types.ErrorData(code=types.METHOD_NOT_FOUND, message="unknown")
                        reply = types.JSONRPCError(jsonrpc="2.0", id=message.id, error=error)
                        await write.send(SessionMessage(reply))
                        continue
                    await send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(without_discover)
            low = server._lowlevel_server
            await low.run(receive, write, low.create_initialization_options())
            tg.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--mode", default="serve", choices=["serve", "hang", "exit", "garbage", "noisy"]
    )
    parser.add_argument("--marker", type=Path, default=None)
    parser.add_argument("--page-size", type=int, default=0)
    parser.add_argument("--legacy", action="store_true", help="speak only handshake-era MCP")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pid-file", type=Path, default=None)
    args = parser.parse_args()
    if args.pid_file is not None:
        args.pid_file.write_text(str(os.getpid()))

    if args.mode == "exit":
        print("fatal: configuration file missing", file=sys.stderr, flush=True)
        sys.exit(3)
    if args.mode == "hang":
        while True:
            time.sleep(3600)
    if args.mode == "garbage":
        print("Welcome to the misbehaving server!", flush=True)
        print("<html>not json</html>", flush=True)
        while True:
            time.sleep(3600)
    if args.mode == "noisy":
        print("debug: starting up (this line breaks the protocol)", flush=True)

    import anyio

    server = build(args.marker)
    if args.page_size:
        paginate(server, args.page_size)
    if args.http:
        from servers.common.runner import serve_http

        anyio.run(lambda: serve_http(server, host="127.0.0.1", port=args.port, token=None))
    elif args.legacy:
        anyio.run(serve_legacy_stdio, server)
    else:
        anyio.run(server.run_stdio_async)


if __name__ == "__main__":
    main()
