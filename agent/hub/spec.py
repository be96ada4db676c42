"""From a :class:`~agent.config.ServerConfig` to a concrete way of starting the server.

Resolution happens when the hub starts a server, not when settings load, because it reads the
environment (``${VAR}`` in ``.mcp.json``, ``bearer_token_env_var``, ``env_vars``) and checks
that a bundled server is actually installed. A failure here (:class:`UnavailableError`) is that one
server's start failure, reported like any other; it never stops the other servers.

Environment policy: third-party stdio servers get what the MCP SDK passes (``HOME``, ``PATH``,
``SHELL``, ``TERM``, ``USER``, ``LOGNAME``), plus the variables named in ``env_vars``, plus
``env`` — the same as Codex and Claude Code, so no secret leaks to a server by accident. The
bundled servers are part of toolwire and get the whole environment: the shell server runs the
user's commands and applies its own filter (it drops ``*KEY*``/``*SECRET*``/``*TOKEN*``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.client.stdio import get_default_environment
from mcp.server.mcpserver import MCPServer

from agent.config import ConfigError, ServerConfig, expand_vars

ENTRY_LAUNCHER = "agent.hub.entry"


class UnavailableError(Exception):
    """The server cannot be started as configured; the message says why."""


@dataclass(frozen=True, slots=True)
class StdioLaunch:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    fingerprint_env: dict[str, str] = field(default_factory=dict)
    """The environment that may change what the server offers (explicit ``env`` and forwarded
    ``env_vars``, not the inherited whole environment): part of the schema-cache key."""


@dataclass(frozen=True, slots=True)
class HttpLaunch:
    url: str
    headers: dict[str, str]
    sse: bool = False


@dataclass(frozen=True, slots=True)
class InProcessLaunch:
    factory: Callable[[], MCPServer[Any]]
    description: str


Launch = StdioLaunch | HttpLaunch | InProcessLaunch


def resolve(
    config: ServerConfig, workspace: Path, environ: Mapping[str, str] | None = None
) -> Launch:
    """How to start ``config`` right now; raises :class:`UnavailableError` with the reason."""
    env_in = os.environ if environ is None else environ
    try:
        if config.kind == "bundled":
            return _bundled(config, workspace, env_in)
        if config.kind == "entry_point":
            return _entry_point(config, workspace, env_in)
        if config.transport in ("http", "sse"):
            return _http(config, workspace, env_in)
        return _command(config, workspace, env_in)
    except ConfigError as exc:  # e.g. ${VAR} not set
        raise UnavailableError(str(exc)) from None


def _expand(config: ServerConfig, text: str, environ: Mapping[str, str], workspace: Path) -> str:
    return expand_vars(text, environ, workspace) if config.expand_env else text


def _forwarded(config: ServerConfig, environ: Mapping[str, str], workspace: Path) -> dict[str, str]:
    env = {name: environ[name] for name in config.env_vars if name in environ}
    env.update({k: _expand(config, v, environ, workspace) for k, v in config.env.items()})
    return env


def _bundled(config: ServerConfig, workspace: Path, environ: Mapping[str, str]) -> Launch:
    module = config.module or f"servers.{config.name}"
    if config.transport == "inprocess":
        from servers.common.workspace import Workspace
        from servers.registry import BUNDLED, build

        if config.name not in BUNDLED:
            raise UnavailableError(
                f"bundled server '{config.name}' is not registered in servers.registry "
                "(not part of this installation yet)"
            )
        name = config.name

        def factory() -> MCPServer[Any]:
            return build(name, Workspace.from_paths([workspace]))

        return InProcessLaunch(factory, f"servers.registry.build({name!r})")
    if package_dir(module) is None:
        raise UnavailableError(
            f"bundled server '{config.name}' is not installed: no module {module}.__main__"
        )
    explicit = _forwarded(config, environ, workspace)
    return StdioLaunch(
        argv=(sys.executable, "-m", module, "--root", str(workspace), *config.args),
        env={**environ, **explicit},
        cwd=config.cwd or workspace,
        fingerprint_env=explicit,
    )


def _entry_point(config: ServerConfig, workspace: Path, environ: Mapping[str, str]) -> Launch:
    reference = config.entry_point or ""
    if config.transport == "inprocess":
        return InProcessLaunch(lambda: load_factory(reference)(), reference)
    explicit = _forwarded(config, environ, workspace)
    return StdioLaunch(
        argv=(sys.executable, "-m", ENTRY_LAUNCHER, reference, *config.args),
        env={**get_default_environment(), **explicit},
        cwd=config.cwd or workspace,
        fingerprint_env=explicit,
    )


def _command(config: ServerConfig, workspace: Path, environ: Mapping[str, str]) -> Launch:
    if not config.command:
        raise UnavailableError(f"server '{config.name}' has no command")
    argv = tuple(
        _expand(config, part, environ, workspace) for part in (config.command, *config.args)
    )
    explicit = _forwarded(config, environ, workspace)
    return StdioLaunch(
        argv=argv,
        env={**get_default_environment(), **explicit},
        cwd=config.cwd or workspace,
        fingerprint_env=explicit,
    )


def _http(config: ServerConfig, workspace: Path, environ: Mapping[str, str]) -> Launch:
    url = _expand(config, config.url or "", environ, workspace)
    headers = {k: _expand(config, v, environ, workspace) for k, v in config.http_headers.items()}
    for header, variable in config.env_http_headers.items():
        if variable in environ:
            headers[header] = environ[variable]
    if config.bearer_token_env_var:
        token = environ.get(config.bearer_token_env_var)
        if not token:
            raise UnavailableError(
                f"bearer_token_env_var names {config.bearer_token_env_var}, which is not set"
            )
        headers["Authorization"] = f"Bearer {token}"
    return HttpLaunch(url=url, headers=headers, sse=config.transport == "sse")


def package_dir(module: str) -> Path | None:
    """The directory of package ``module`` if it has a ``__main__``, found without importing it.

    ``find_spec("servers.files.__main__")`` would import ``servers.files`` (and all of MCP's
    server side) into the agent, which is exactly the start-up cost the hub hides.
    """
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location).joinpath(*rest)
        if (candidate / "__main__.py").is_file():
            return candidate
    return None


def load_factory(reference: str) -> Callable[[], MCPServer[Any]]:
    """Import ``module:attribute``: an ``MCPServer``, or a callable that returns one."""
    module_name, _, attribute = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        target = getattr(target, part)
    if isinstance(target, MCPServer):
        server = target
        return lambda: server
    if callable(target):
        return target  # type: ignore[no-any-return]
    raise UnavailableError(f"{reference} is neither an MCPServer nor a factory that returns one")
