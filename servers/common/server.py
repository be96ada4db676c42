"""One constructor for every bundled server, so name, version and logging are set alike."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import SubscriptionBus

from servers.common.schema import inline_local_refs

Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[None]]


def package_version() -> str:
    try:
        return version("toolwire")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0.0.0+local"


class ToolServer(MCPServer[Any]):
    """``MCPServer`` whose tool descriptions are the docstrings with indentation removed (the
    model reads clean paragraphs, not source-code whitespace), and whose output schemas have
    their definitions written in place (see :mod:`servers.common.schema`)."""

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        text = description if description is not None else inspect.cleandoc(fn.__doc__ or "")
        super().add_tool(fn, name, title, text, *args, **kwargs)
        tool = self._tool_manager.get_tool(name or fn.__name__)
        if tool is not None and tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = inline_local_refs(tool.fn_metadata.output_schema)


def new_server(
    name: str,
    instructions: str,
    *,
    subscriptions: SubscriptionBus | None = None,
    lifespan: Lifespan | None = None,
) -> MCPServer[Any]:
    """An ``MCPServer`` named ``toolwire-<name>`` that logs warnings only (stderr stays quiet)."""
    return ToolServer(
        f"toolwire-{name}",
        version=package_version(),
        instructions=instructions,
        subscriptions=subscriptions,
        lifespan=lifespan,
        log_level="WARNING",
    )


__all__ = ["Lifespan", "ToolServer", "new_server", "package_version"]
