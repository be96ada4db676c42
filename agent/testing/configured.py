"""Connect to a server exactly as the agent would: by its name in toolwire's configuration.

The server is found by the hub's own settings loader (bundled servers, ``toolwire.toml``,
``.mcp.json``, Codex-style ``[mcp_servers]`` tables, ``toolwire.servers`` entry points) and
started by the hub's own launch code (:func:`agent.hub.spec.resolve` and its stdio transport),
so a server that works here works in ``toolwire run``. A URL works too, for a server that is
already running (``toolwire dev`` prints one).

    async with connect_configured("git", workspace=repo) as tools:
        print((await tools.call("git_log", limit=3)).text)
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from agent.config import ServerConfig, Settings, load_settings
from agent.hub.connection import describe
from agent.hub.elicitation import answer_elicitation
from agent.hub.spec import HttpLaunch, InProcessLaunch, StdioLaunch, UnavailableError, resolve
from agent.hub.stdio import StdioTransport
from agent.testing.session import Mode, ToolSession, connect


class ServerStartError(RuntimeError):
    """The server could not be found, launched or reached; the message says why."""


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def find_server(settings: Settings, name: str) -> ServerConfig:
    """The configured server ``name``, or :class:`ServerStartError` naming the ones there are."""
    for server in settings.servers:
        if server.name == name:
            if not server.enabled:
                raise ServerStartError(f"server '{name}' is disabled in {server.sources[-1]}")
            return server
    known = ", ".join(s.name for s in settings.servers if s.enabled) or "none"
    files = ", ".join(settings.files) or "no configuration files"
    raise ServerStartError(f"no server named '{name}' (configured: {known}; read {files})")


@asynccontextmanager
async def connect_configured(
    target: str,
    *,
    settings: Settings | None = None,
    workspace: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    headers: Mapping[str, str] | None = None,
    mode: Mode = "auto",
) -> AsyncIterator[ToolSession]:
    """Start configured server ``target`` (or reach the URL ``target``) and yield a session.

    Start-up is bounded by the server's ``startup_timeout_sec``; each request by its
    ``tool_timeout_sec``. A failure to start raises :class:`ServerStartError` with the reason
    and, for a stdio server, how it exited and the end of its stderr.
    """
    if is_url(target):
        async with connect(target, headers=headers, mode=mode) as session:
            yield session
        return
    settings = settings or load_settings(workspace, overrides=overrides)
    config = find_server(settings, target)
    try:
        launch = resolve(config, settings.workspace)
    except UnavailableError as exc:
        raise ServerStartError(f"server '{config.name}' cannot start: {exc}") from None
    transport: StdioTransport | None = None
    server: Any
    if isinstance(launch, StdioLaunch):
        server = transport = StdioTransport(launch)
    elif isinstance(launch, InProcessLaunch):
        server = launch.factory()
    else:
        assert isinstance(launch, HttpLaunch)
        async with connect(launch.url, headers=launch.headers, mode=mode) as session:
            yield session
        return
    started = False
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + config.startup_timeout_sec) as scope:
            async with Client(
                server,
                mode=mode,
                read_timeout_seconds=config.tool_timeout_sec,
                elicitation_callback=answer_elicitation,
            ) as client:
                started = True
                scope.deadline = math.inf
                yield ToolSession(client)
    except Exception as exc:
        if started:
            raise
        raise ServerStartError(_why(config, exc, transport)) from exc
    if scope.cancelled_caught and not started:
        raise ServerStartError(
            _why(config, TimeoutError(f"no answer in {config.startup_timeout_sec:g}s"), transport)
        )


def _why(config: ServerConfig, exc: BaseException, transport: StdioTransport | None) -> str:
    lines = [f"server '{config.name}' did not start: {describe(exc)}"]
    if transport is not None:
        if transport.process is not None:
            lines.append(f"the process {transport.exit_description()}")
        if problem := transport.stdout_problem():
            lines.append(problem)
        if tail := transport.stderr_tail():
            lines.append(f"its stderr ends with:\n{tail}")
    return "\n".join(lines)


__all__ = ["ServerStartError", "connect_configured", "find_server", "is_url"]
