"""One constructor for every bundled server, so name, version and logging are set alike."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import SubscriptionBus

Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[None]]


def package_version() -> str:
    try:
        return version("toolwire")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0.0.0+local"


def new_server(
    name: str,
    instructions: str,
    *,
    subscriptions: SubscriptionBus | None = None,
    lifespan: Lifespan | None = None,
) -> MCPServer[Any]:
    """An ``MCPServer`` named ``toolwire-<name>`` that logs warnings only (stderr stays quiet)."""
    return MCPServer(
        f"toolwire-{name}",
        version=package_version(),
        instructions=instructions,
        subscriptions=subscriptions,
        lifespan=lifespan,
        log_level="WARNING",
    )


__all__ = ["Lifespan", "new_server", "package_version"]
