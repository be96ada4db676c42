"""``toolwire-patch`` / ``python -m servers.patch``: the patch server on stdio or HTTP."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from servers.common.runner import run_server
from servers.common.workspace import Workspace
from servers.patch.server import PatchSettings, create_server


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal-dir",
        type=Path,
        default=None,
        help="where in-flight patches are journaled for crash recovery "
        "(default: the user state directory)",
    )
    parser.add_argument(
        "--fsync",
        dest="durable",
        action="store_true",
        help="fsync every written file before answering, so patches also survive power loss "
        "(without it a patch is still all-or-nothing if the process is killed)",
    )


def _create(args: argparse.Namespace, workspace: Workspace) -> MCPServer:
    return create_server(
        PatchSettings(workspace=workspace, journal_dir=args.journal_dir, durable=args.durable)
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_server(
        "toolwire-patch",
        "MCP server: apply patches (Codex format or unified diff) atomically.",
        _create,
        add_arguments=_arguments,
        argv=argv,
    )


if __name__ == "__main__":
    main()
