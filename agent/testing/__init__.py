"""A testing kit for tool-server authors.

* :func:`connect`: a server in-process (an ``MCPServer``), as a stdio subprocess (a command), or
  over HTTP (a URL), through the real MCP client; ``await tools.call("name", key=value)``.
* :func:`connect_configured`: a server by its name in toolwire's configuration, started the way
  the agent starts it.
* :func:`run_agent`: servers inside the real agent loop, with the scripted model server as the
  model (:func:`call` writes a scripted tool call).
* :func:`run_inspector`: the MCP Inspector CLI against a server (``--strict`` schema lint).
* :func:`load_server`: a server from a file, package directory or module name.
* :func:`make_venv`: a scratch venv to install a package into for real.

A few lines of pytest (with ``pytest.mark.anyio``)::

    async def test_log(repo):
        async with connect(create_server(GitSettings(Workspace.from_paths([repo])))) as tools:
            assert "Fix" in (await tools.call("git_log", limit=1)).ok().text

Names that pull in the agent loop or the scripted model server are imported on first use, so
``from agent.testing import connect`` stays as light as the MCP SDK itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.testing.session import ToolCallError, ToolOutcome, ToolSession, connect

if TYPE_CHECKING:
    from agent.testing.agent import AgentRun, ToolCall, call, run_agent, tool_name
    from agent.testing.configured import ServerStartError, connect_configured
    from agent.testing.inspector import InspectorRun, run_inspector
    from agent.testing.target import load_server
    from agent.testing.venv import Venv, make_venv

_LAZY = {
    "AgentRun": "agent.testing.agent",
    "ToolCall": "agent.testing.agent",
    "call": "agent.testing.agent",
    "run_agent": "agent.testing.agent",
    "tool_name": "agent.testing.agent",
    "ServerStartError": "agent.testing.configured",
    "connect_configured": "agent.testing.configured",
    "InspectorRun": "agent.testing.inspector",
    "run_inspector": "agent.testing.inspector",
    "load_server": "agent.testing.target",
    "Venv": "agent.testing.venv",
    "make_venv": "agent.testing.venv",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agent.testing' has no attribute {name!r}")


__all__ = [
    "AgentRun",
    "InspectorRun",
    "ServerStartError",
    "ToolCall",
    "ToolCallError",
    "ToolOutcome",
    "ToolSession",
    "Venv",
    "call",
    "connect",
    "connect_configured",
    "load_server",
    "make_venv",
    "run_agent",
    "run_inspector",
    "tool_name",
]
