"""A tool server with one tool that does nothing: the loop benchmark's stand-in for a tool
whose own cost is zero, so that what remains of a turn is the client and the stdio round
trip. Run by file path (the hub starts servers in the workspace directory)."""

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server: MCPServer = MCPServer("noop")


@server.tool(annotations=ToolAnnotations(readOnlyHint=True, destructiveHint=False))
async def noop() -> str:
    """Do nothing and say "ok"."""
    return "ok"


if __name__ == "__main__":
    anyio.run(server.run_stdio_async)
