"""``python -m agent.testing.serve TARGET [--root DIR] [--http --port N]``: run any server.

TARGET is a file, package directory or module (see :mod:`agent.testing.target`); the options
are the bundled servers' (stdio by default, ``--http`` for streamable HTTP at ``/mcp``). This is
what ``toolwire dev`` restarts on every change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from servers.common.runner import run_server
from servers.common.workspace import Workspace


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print("usage: python -m agent.testing.serve TARGET [server options]", file=sys.stderr)
        return 2
    target, rest = args[0], args[1:]
    cwd = Path.cwd()

    def create(_args: argparse.Namespace, workspace: Workspace) -> MCPServer[Any]:
        from agent.testing.target import TargetError, load_server

        try:
            return load_server(target, workspace, cwd)
        except TargetError as exc:
            raise SystemExit(f"cannot load {target}: {exc}") from None

    run_server(target, f"MCP server loaded from {target}", create, argv=rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
