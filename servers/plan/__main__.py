"""``toolwire-plan`` / ``python -m servers.plan``: the plan server on stdio or HTTP."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from servers.common.runner import run_server
from servers.common.workspace import Workspace
from servers.plan.server import PlanSettings, create_server


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="where the plan is saved (default: the user state directory, one per workspace)",
    )


def _create(args: argparse.Namespace, workspace: Workspace) -> MCPServer:
    return create_server(PlanSettings(workspace=workspace, state_file=args.state_file))


def main(argv: Sequence[str] | None = None) -> None:
    run_server(
        "toolwire-plan", "MCP server: the task plan.", _create, add_arguments=_arguments, argv=argv
    )


if __name__ == "__main__":
    main()
