"""``toolwire-files`` / ``python -m servers.files``: the files server on stdio or HTTP."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer

from servers.common.runner import run_server
from servers.common.workspace import Workspace
from servers.files.server import FilesSettings, create_server


def _create(args: argparse.Namespace, workspace: Workspace) -> MCPServer:
    return create_server(FilesSettings(workspace=workspace))


def main(argv: Sequence[str] | None = None) -> None:
    run_server("toolwire-files", "MCP server: read files and list directories.", _create, argv=argv)


if __name__ == "__main__":
    main()
