"""One constructor for every bundled server, so name, version and logging are set alike."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.subscriptions import SubscriptionBus
from mcp.types import CallToolResult

from servers.common.schema import compile_fast, inline_local_refs

Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[None]]


def package_version() -> str:
    try:
        return version("toolwire")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0.0.0+local"


class ToolServer(MCPServer[Any]):
    """``MCPServer`` whose tool descriptions are the docstrings with indentation removed (the
    model reads clean paragraphs, not source-code whitespace), and whose output schemas have
    their definitions written in place (see :mod:`servers.common.schema`).

    A tool that returns its own ``CallToolResult`` (annotated ``-> Annotated[CallToolResult,
    SomeResult]``) has its structured content checked against the published ``outputSchema``
    with a compiled validator, in place of the SDK's pydantic validation into ``SomeResult``:
    the same guarantee, stated in the terms clients check (the wire schema, strictly, where
    pydantic would coerce ``"5"`` into ``5`` and let the string through), for 0.01-0.02 ms
    instead of 0.1-0.3 ms on a 100-match search page. A result that fails the check is a crash
    of the tool, as under the SDK's check: the client gets "Error executing tool <name>".
    """

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
            if tool.is_async and returns_call_tool_result(fn):
                check_structured_output(tool)


class OutputSchemaError(ValueError):
    """A tool's structured content does not match the ``outputSchema`` it publishes."""


def returns_call_tool_result(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is annotated to return a ``CallToolResult`` (bare or ``Annotated``)."""
    try:
        returned = get_type_hints(fn, include_extras=True).get("return")
    except Exception:  # an annotation that does not resolve: not one of ours
        return False
    if get_origin(returned) is Annotated:
        returned = get_args(returned)[0]
    return returned is CallToolResult


def check_structured_output(tool: Tool) -> None:
    """Check ``tool``'s structured results with a compiled validator of its ``outputSchema``
    instead of the SDK's model validation (left in place if the schema does not compile).

    ``FuncMetadata`` reads ``output_model`` on every call and validates nothing without one,
    so clearing it hands the check to the wrapper installed here."""
    schema = tool.fn_metadata.output_schema
    validator = compile_fast(schema) if schema is not None else None
    if validator is None:
        return
    call = tool.fn
    name = tool.name

    @functools.wraps(call)  # keeps the annotations (see returns_call_tool_result)
    async def checked(**arguments: Any) -> Any:
        result = await call(**arguments)
        if (
            isinstance(result, CallToolResult)
            and not result.is_error
            and not validator.is_valid(result.structured_content)
        ):
            first = next(iter(validator.iter_errors(result.structured_content)), None)
            problem = "" if first is None else f": {str(first.message)[:300]}"
            raise OutputSchemaError(f"{name} returned content outside its outputSchema{problem}")
        return result

    tool.fn_metadata.output_model = None
    tool.fn = checked


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


__all__ = [
    "Lifespan",
    "OutputSchemaError",
    "ToolServer",
    "check_structured_output",
    "new_server",
    "package_version",
    "returns_call_tool_result",
]
