"""``toolwire-git`` / ``python -m toolwire_git``: stdio by default, ``--http`` for HTTP."""

from __future__ import annotations

from collections.abc import Sequence

from servers.common.runner import run_server
from toolwire_git.server import GitSettings, create_server


def main(argv: Sequence[str] | None = None) -> None:
    run_server(
        "toolwire-git",
        "MCP server: git log and blame for the repository under --root.",
        lambda _args, workspace: create_server(GitSettings(workspace)),
        argv=argv,
    )


if __name__ == "__main__":
    main()
