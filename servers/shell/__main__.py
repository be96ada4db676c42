"""``toolwire-shell`` / ``python -m servers.shell``: the shell server on stdio or HTTP."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer

from servers.common.runner import run_server
from servers.common.workspace import Workspace
from servers.shell.environment import parse_assignment
from servers.shell.sandbox import SandboxUnavailableError
from servers.shell.server import ShellSettings, create_server


def _assignment(text: str) -> tuple[str, str]:
    try:
        return parse_assignment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _arguments(parser: argparse.ArgumentParser) -> None:
    sandbox = parser.add_argument_group("sandbox")
    sandbox.add_argument(
        "--sandbox",
        choices=["read-only", "workspace-write", "danger-full-access"],
        default="workspace-write",
        help="what commands may change: nothing, the workspace roots only (default), or "
        "everything (no sandbox); the sandboxed modes also have no network",
    )
    sandbox.add_argument(
        "--sandbox-fallback",
        choices=["refuse", "unsandboxed"],
        default="refuse",
        help="when bubblewrap cannot sandbox here: refuse to start (default) or run unsandboxed",
    )
    sandbox.add_argument(
        "--allow-escalation",
        action="store_true",
        help="let a command ask to run outside the sandbox (sandbox_permissions=require_escalated)",
    )
    sandbox.add_argument("--bwrap", metavar="PATH", help="bubblewrap binary (default: bwrap)")
    env = parser.add_argument_group("environment")
    env.add_argument(
        "--env-inherit",
        choices=["all", "core", "none"],
        default="all",
        help="variables inherited from the server: all, core (PATH, HOME, locale...) or none",
    )
    env.add_argument(
        "--env-exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="also drop variables whose name matches (case-insensitive; repeatable); "
        "*KEY*, *SECRET* and *TOKEN* are always dropped",
    )
    env.add_argument(
        "--env-keep",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep matching variables even if an exclude pattern matches (e.g. GITHUB_TOKEN)",
    )
    env.add_argument(
        "--env-set",
        action="append",
        default=[],
        type=_assignment,
        metavar="NAME=VALUE",
        help="set a variable for every command (repeatable)",
    )
    shell = parser.add_argument_group("commands")
    shell.add_argument("--shell", help="shell to run commands with (default: $SHELL or bash)")
    shell.add_argument(
        "--login-shell",
        choices=["snapshot", "always", "never"],
        default="snapshot",
        help="login profile: capture its environment once (default), source it for every "
        "command, or skip it",
    )
    shell.add_argument(
        "--max-sessions", type=int, default=64, help="most sessions at once (default: 64)"
    )
    shell.add_argument(
        "--session-idle-timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="kill sessions no tool call has used for this long (default: 3600)",
    )


def _create(args: argparse.Namespace, workspace: Workspace) -> MCPServer:
    settings = ShellSettings(
        workspace=workspace,
        sandbox=args.sandbox,
        sandbox_fallback=args.sandbox_fallback,
        allow_escalation=args.allow_escalation,
        bwrap=args.bwrap,
        max_sessions=args.max_sessions,
        idle_timeout=args.session_idle_timeout,
        env_inherit=args.env_inherit,
        env_exclude=tuple(args.env_exclude),
        env_keep=tuple(args.env_keep),
        env_set=dict(args.env_set),
        shell=args.shell,
        login_shell=args.login_shell,
    )
    try:
        return create_server(settings)
    except (SandboxUnavailableError, ValueError) as exc:
        print(f"toolwire-shell: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def main(argv: Sequence[str] | None = None) -> None:
    run_server(
        "toolwire-shell",
        "MCP server: run shell commands and sessions, sandboxed with bubblewrap.",
        _create,
        add_arguments=_arguments,
        argv=argv,
    )


if __name__ == "__main__":
    main()
