"""A tool server with one tool that does nothing: the loop benchmark's stand-in for a tool
whose own cost is zero, so that what remains of a turn is the client and the stdio round
trip. Run by file path (the hub starts servers in the workspace directory).

It starts through ``servers.common.runner.run_server`` like every server we ship or teach, so
the round trip it measures is the stdio transport real servers use."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from servers.common.runner import run_server


def create_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("noop", log_level="WARNING")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False))
    async def noop() -> str:
        """Do nothing and say "ok"."""
        return "ok"

    return server


def main() -> None:
    run_server("noop", "MCP server: one tool that does nothing.", lambda *_: create_server())


if __name__ == "__main__":
    main()
