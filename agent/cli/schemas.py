"""``toolwire schemas --check|--write [SERVER ...]``: tool-contract snapshots for any server.

A snapshot is ``<dir>/<server>.json``: every tool's name, description, input and output schemas
and annotations, sorted and pretty-printed (the format of :mod:`schemas.snapshot`, which keeps
toolwire's own). Check it in; ``--check`` in CI then fails with a diff whenever a change alters
what clients and models see, so a broken contract is a reviewed decision, not an accident.

Which servers: the names given (any configured server: ``toolwire.toml``, ``.mcp.json``, an
installed ``toolwire.servers`` entry point, ...); by default every configured server that is not
bundled, or, where there is none (toolwire's own checkout), the bundled ones. Bundled servers
are built in-process with default settings and kept in ``schemas/tools`` of the toolwire
package, exactly as ``make snapshots`` does; the others are started as configured and kept in
``--dir`` (default ``schemas/tools`` under the workspace).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import anyio

from agent.cli._config import add_config_options, settings_from_args

MAX_DIFF_LINES = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 and show the diff on drift")
    mode.add_argument("--write", action="store_true", help="write the snapshots")
    parser.add_argument("servers", nargs="*", metavar="SERVER", help="configured server names")
    parser.add_argument(
        "--dir", type=Path, default=None, help="snapshot directory (default: schemas/tools)"
    )
    add_config_options(parser, example='-c servers.git.args=\'["--root", "."]\'')


def run(args: argparse.Namespace) -> int:
    from agent.config import ConfigError
    from agent.testing.configured import ServerStartError

    try:
        snapshots = anyio.run(_collect, args)
    except (ConfigError, ServerStartError) as exc:
        print(f"toolwire schemas: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    changed = [
        (name, path, text) for name, (path, text) in snapshots.items() if _differs(path, text)
    ]
    if args.write:
        for _, path, text in changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        written = ", ".join(str(path) for _, path, _ in changed)
        print(f"updated: {written or 'nothing (all current)'}")
        return 0
    for name, path, text in changed:
        print(_diff(name, path, text))
    if changed:
        names = ", ".join(name for name, _, _ in changed)
        print(f"tool contracts changed for: {names}; if intended, run: toolwire schemas --write")
        return 1
    print(f"tool schemas match the snapshots ({', '.join(snapshots)})")
    return 0


async def _collect(args: argparse.Namespace) -> dict[str, tuple[Path, str]]:
    """server name -> (snapshot path, rendered snapshot)."""
    from agent.testing.configured import connect_configured, find_server
    from schemas.snapshot import SNAPSHOT_DIR, contracts, current_snapshots, render

    settings = settings_from_args(args)
    names: list[str] = list(args.servers)
    if not names:
        names = [s.name for s in settings.enabled_servers if not s.bundled]
        names = names or [s.name for s in settings.enabled_servers]
    configs = {name: find_server(settings, name) for name in names}
    project_dir = args.dir or settings.workspace / "schemas" / "tools"
    out: dict[str, tuple[Path, str]] = {}
    built = await current_snapshots() if any(c.bundled for c in configs.values()) else {}
    for name, config in configs.items():
        path = (args.dir or (SNAPSHOT_DIR if config.bundled else project_dir)) / f"{name}.json"
        if name in built:  # registered bundled server: in-process, as `make snapshots` does
            out[name] = (path, built[name])
            continue
        async with connect_configured(name, settings=settings) as session:
            out[name] = (path, render(contracts(await session.tools())))
    return dict(sorted(out.items()))


def _differs(path: Path, text: str) -> bool:
    return not path.exists() or path.read_text(encoding="utf-8") != text


def _diff(name: str, path: Path, text: str) -> str:
    if not path.exists():
        return f"{name}: no snapshot at {path}"
    lines = list(
        difflib.unified_diff(
            path.read_text(encoding="utf-8").splitlines(),
            text.splitlines(),
            fromfile=f"{path} (snapshot)",
            tofile=f"{name} (server now)",
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return "\n".join(lines)
