"""Checked-in snapshots of every bundled tool's contract: name, description, input and output
schemas, annotations. A change to a tool's contract shows up as a diff in review.

    python -m schemas.snapshot --check    # exit 1 and name the drift
    python -m schemas.snapshot --write    # refresh schemas/tools/<server>.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import Tool

SNAPSHOT_DIR = Path(__file__).resolve().parent / "tools"
REFRESH_COMMAND = "python -m schemas.snapshot --write"

SNAPSHOT_SETTINGS: dict[str, dict[str, Any]] = {
    # Tool schemas do not depend on the sandbox mode; without this, a machine that cannot run
    # bubblewrap could not build the shell server to snapshot it.
    "shell": {"sandbox_fallback": "unsandboxed"},
}


async def tool_contracts(server: MCPServer[Any]) -> list[dict[str, Any]]:
    """The advertised tools as plain JSON (wire names, camelCase), sorted by name."""
    return contracts(await server.list_tools())


def contracts(tools: Iterable[Tool]) -> list[dict[str, Any]]:
    """Tools (from a server, or as a client listed them) as plain JSON, sorted by name."""
    return sorted(
        (t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools),
        key=lambda t: str(t["name"]),
    )


def render(contracts: list[dict[str, Any]]) -> str:
    return json.dumps(contracts, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


async def current_snapshots() -> dict[str, str]:
    """Build each bundled server with default settings in a scratch workspace and render it."""
    from servers.common.workspace import Workspace
    from servers.registry import BUNDLED, build

    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace.from_paths([scratch])
        for name in sorted(BUNDLED):
            server = build(name, workspace, **SNAPSHOT_SETTINGS.get(name, {}))
            out[name] = render(await tool_contracts(server))
    return out


def drift(snapshots: dict[str, str], directory: Path = SNAPSHOT_DIR) -> list[str]:
    """Names of servers whose snapshot file is missing or differs."""
    changed = []
    for name, text in snapshots.items():
        path = directory / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            changed.append(name)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.snapshot", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true", help="fail if a snapshot is out of date")
    group.add_argument("--write", action="store_true", help="rewrite the snapshots")
    args = parser.parse_args(argv)
    snapshots = anyio.run(current_snapshots)
    changed = drift(snapshots)
    if args.write:
        SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
        for name in changed:
            (SNAPSHOT_DIR / f"{name}.json").write_text(snapshots[name], encoding="utf-8")
        print(f"updated: {', '.join(changed) or 'nothing (all current)'}")
        return 0
    if changed:
        print(f"tool schemas changed for: {', '.join(changed)}; run: {REFRESH_COMMAND}")
        return 1
    print("tool schemas match the snapshots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
