"""A deliberately careless MCP server: an untyped parameter, so strict mode has something to say."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

server = MCPServer("sloppy")


@server.tool()
async def anything_goes(value: Any) -> str:
    """Accepts any JSON value at all."""
    return repr(value)


if __name__ == "__main__":
    server.run()
