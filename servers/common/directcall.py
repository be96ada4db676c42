"""Running a plain tool for the stdio lane without the SDK's request kernel.

For a ``tools/call`` the SDK's ``serve_one`` builds a connection, a runner, a request context
and a session; runs its middleware (an OpenTelemetry span, the ``requestState`` boundary);
validates the params into models; runs the tool through ``MCPServer``; and shapes the result
for the wire by dumping the ``CallToolResult`` model, validating that dump against the
protocol's result model and dumping it again. On a grep that returns a 100-match page that is
0.6-0.8 ms of the server's time per call before the tool runs and after it returns, measured
on a 2-core machine (most of it walks of the 15-20 KB structured content), against a search
that rg itself answers in 17-22 ms.

:class:`DirectTools` serves the common case with the same parts and less around them: the tool
runs through ``MCPServer.call_tool`` (argument validation, the tool's own error handling and
result conversion are the SDK's), its failures become error results exactly as
``MCPServer``'s handler makes them, and the result is shaped by the SDK's own sieve with the
structured content left out of it, then put back as it is: it is JSON data already (our
servers check it against the output schema, see :class:`servers.common.server.ToolServer`),
and the sieve's walks would hand it back unchanged.

A call takes this path only when nothing it skips could act on it; otherwise the lane uses
``serve_one``:

* the server is an ``MCPServer`` whose ``tools/call`` handler is its own, with only the SDK's
  built-in middleware and no cache hint for ``tools/call``;
* no OpenTelemetry tracer provider is installed (with one, the SDK's span is wanted);
* the tool takes no ``Context`` and has no resolvers, and is annotated to return a
  ``CallToolResult`` (so it can never answer ``input_required``);
* the params hold only ``name``, ``arguments`` (an object) and ``_meta``, and the connection
  speaks exactly the protocol version this was checked against.

``tests/common/test_fastcall.py`` holds the answers equal to the SDK's, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.request_state import RequestStateBoundary
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from mcp_types import INTERNAL_ERROR, methods
from opentelemetry import trace
from pydantic import ValidationError

from servers.common.server import returns_call_tool_result

logger = logging.getLogger(__name__)

METHOD = "tools/call"
VERSION = "2026-07-28"
"""The protocol version whose result shape this module was checked against."""
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
_PLAIN_PARAMS = frozenset({"name", "arguments", "_meta"})
_BUILT_IN_MIDDLEWARE = (OpenTelemetryMiddleware, RequestStateBoundary)


class DirectTools:
    """Decides which calls may skip ``serve_one`` (:meth:`takes`) and serves them (:meth:`call`)."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self._server = server
        self._eligible: dict[str, tuple[Any, bool]] = {}  # name: (tool, verdict); tools change live

    def takes(self, params: Mapping[str, Any], version: str) -> bool:
        """Whether the call in ``params`` (already admitted by the envelope check) can be
        served here. Judged on every call (a few microseconds): middleware, handlers and tools
        may all change while the server runs."""
        if version != VERSION or not params.keys() <= _PLAIN_PARAMS or not self._plain_server():
            return False
        name = params.get("name")
        arguments = params.get("arguments")
        if not isinstance(name, str) or not (arguments is None or isinstance(arguments, dict)):
            return False
        tool = self._server._tool_manager.get_tool(name)
        if tool is None:
            return False  # the SDK words the unknown-tool error
        known = self._eligible.get(name)
        if known is None or known[0] is not tool:
            known = self._eligible[name] = (
                tool,
                tool.context_kwarg is None
                and not tool.resolved_params
                and returns_call_tool_result(tool.fn),
            )
        return known[1] and _tracing_off()

    def _plain_server(self) -> bool:
        lowlevel = self._server._lowlevel_server
        entry = lowlevel.get_request_handler(METHOD)
        return (
            entry is not None
            and entry.handler == self._server._handle_call_tool
            and all(type(m) in _BUILT_IN_MIDDLEWARE for m in lowlevel.middleware)
            and METHOD not in lowlevel.cache_hints
        )

    async def call(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Run the tool and return the result's wire form; an ``MCPError`` propagates (the lane
        answers it as a JSON-RPC error, as the SDK does)."""
        name: str = params["name"]
        try:
            result = await self._server.call_tool(name, params.get("arguments") or {})
        except MCPError:
            raise
        except Exception as exc:
            result = _error_result(name, exc)
        if not isinstance(result, CallToolResult):  # the tool broke its annotation
            logger.error("Tool %r returned %s, not a CallToolResult", name, type(result).__name__)
            text = TextContent(type="text", text=f"Error executing tool {name}")
            result = CallToolResult(content=[text], is_error=True)
        return self._wire(result)

    def _wire(self, result: CallToolResult) -> dict[str, Any]:
        """``ServerRunner._serialize`` for a ``CallToolResult`` on a 2026-07-28 connection."""
        structured = result.structured_content
        body = result.model_dump(
            by_alias=True, mode="json", exclude_none=True, exclude={"structured_content"}
        )
        try:
            body = methods.serialize_server_result(METHOD, VERSION, body)
        except ValidationError:
            logger.exception("handler for %r returned an invalid result", METHOD)
            raise MCPError(
                code=INTERNAL_ERROR, message="Handler returned an invalid result"
            ) from None
        if structured is not None:
            body["structuredContent"] = structured
        if body.get("resultType") is None:
            body["resultType"] = "complete"
        meta = body.get("_meta")
        if meta is None:
            body["_meta"] = {SERVER_INFO_KEY: self._server._lowlevel_server.server_info_stamp}
        elif isinstance(meta, dict) and meta.get(SERVER_INFO_KEY) is None:
            body["_meta"] = {
                **meta,
                SERVER_INFO_KEY: self._server._lowlevel_server.server_info_stamp,
            }
        return body


def _error_result(name: str, exc: Exception) -> CallToolResult:
    """A failed tool as ``MCPServer._handle_call_tool`` reports it: logged, and returned to the
    model as an error result (a crash's own text stays in the server's log)."""
    if isinstance(exc, ToolError) and not isinstance(exc, UnexpectedToolError):
        if isinstance(exc.__cause__, ValidationError):
            fields = sorted(
                {".".join(str(p) for p in err["loc"]) for err in exc.__cause__.errors()}
            )
            logger.info("Tool %r rejected arguments: %r", name, fields)
        else:
            logger.info("Tool %r failed: %r", name, str(exc))
    else:
        logger.exception("Tool %r raised an unexpected exception", name, exc_info=exc)
    return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)


def _tracing_off() -> bool:
    """No tracer provider is installed, so the SDK's span would record nothing."""
    return isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


__all__ = ["DirectTools"]
