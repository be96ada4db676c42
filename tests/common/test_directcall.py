"""Which calls skip the SDK's request kernel, and the output check that makes that safe.

The answers themselves are compared with the SDK's over real pipes in ``test_fastcall.py``;
here each condition of :meth:`DirectTools.takes` is turned off in turn, in process.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import pytest
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import UnexpectedToolError
from mcp.types import CallToolResult, TextContent
from opentelemetry import trace
from pydantic import BaseModel

from servers.common.directcall import DirectTools
from servers.common.results import tool_result
from servers.common.server import (
    OutputSchemaError,
    check_structured_output,
    new_server,
    returns_call_tool_result,
)

ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
VERSION = "2026-07-28"


class Count(BaseModel):
    count: int


def build() -> MCPServer[Any]:
    server = new_server("direct-test", "Tools for the direct path's tests.")

    @server.tool()
    async def counted(count: int) -> Annotated[CallToolResult, Count]:
        """A structured result."""
        return tool_result(Count(count=count), str(count))

    @server.tool()
    async def coerced(count: int) -> Annotated[CallToolResult, Count]:
        """Structured content pydantic would coerce (``"5"`` into 5) but the schema refuses."""
        text = TextContent(type="text", text="x")
        return CallToolResult(content=[text], structured_content={"count": str(count)})

    @server.tool()
    async def failed() -> Annotated[CallToolResult, Count]:
        """An error result: it has no structured content, and needs none."""
        return CallToolResult(content=[TextContent(type="text", text="no")], is_error=True)

    @server.tool()
    async def with_context(count: int, ctx: Context) -> Annotated[CallToolResult, Count]:
        """Takes the request's Context."""
        return tool_result(Count(count=count), str(count))

    @server.tool()
    async def plain(text: str) -> str:
        """Returns a string, which the SDK converts."""
        return text

    return server


def params(name: str, arguments: Any = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "_meta": ENVELOPE, **extra}
    if arguments is not None:
        found["arguments"] = arguments
    return found


def test_a_plain_structured_tool_is_taken() -> None:
    direct = DirectTools(build())
    assert direct.takes(params("counted", {"count": 1}), VERSION)
    assert direct.takes(params("counted"), VERSION)  # arguments are optional in the params


@pytest.mark.parametrize(
    ("call", "version"),
    [
        (params("with_context", {"count": 1}), VERSION),  # needs the SDK's request context
        (params("plain", {"text": "x"}), VERSION),  # converted by the SDK, may be anything
        (params("no_such_tool", {}), VERSION),  # the SDK words that error
        (params("counted", {"count": 1}, requestState="abc"), VERSION),  # multi-round state
        (params("counted", [1]), VERSION),  # arguments that are not an object
        ({"name": 7, "_meta": ENVELOPE}, VERSION),
        (params("counted", {"count": 1}), "2099-01-01"),  # a shape this was not checked for
    ],
)
def test_calls_the_sdk_must_serve(call: dict[str, Any], version: str) -> None:
    assert not DirectTools(build()).takes(call, version)


def test_a_server_with_its_own_middleware_or_cache_hint_keeps_the_sdk_path() -> None:
    server = build()

    async def middleware(ctx: Any, call_next: Any) -> Any:
        return await call_next(ctx)

    direct = DirectTools(server)
    assert direct.takes(params("counted", {"count": 1}), VERSION)
    server._lowlevel_server.middleware.append(middleware)  # after the lane was built
    assert not direct.takes(params("counted", {"count": 1}), VERSION)
    server = build()
    direct = DirectTools(server)
    server._lowlevel_server.cache_hints["tools/call"] = object()  # type: ignore[assignment]
    assert not direct.takes(params("counted", {"count": 1}), VERSION)


def test_an_installed_tracer_keeps_the_sdk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    direct = DirectTools(build())
    assert direct.takes(params("counted", {"count": 1}), VERSION)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    assert not direct.takes(params("counted", {"count": 1}), VERSION)


def test_a_tool_replaced_while_serving_is_judged_again() -> None:
    server = build()
    direct = DirectTools(server)
    assert direct.takes(params("counted", {"count": 1}), VERSION)
    server.remove_tool("counted")

    @server.tool(name="counted")
    async def counted_now(count: int, ctx: Context) -> Annotated[CallToolResult, Count]:
        """Now takes a Context."""
        return tool_result(Count(count=count), str(count))

    assert not direct.takes(params("counted", {"count": 1}), VERSION)


def test_the_output_check_is_compiled_and_strict() -> None:
    server = build()
    tool = server._tool_manager.get_tool("counted")
    assert tool is not None
    assert tool.fn_metadata.output_model is None  # the SDK's model validation is replaced
    assert returns_call_tool_result(tool.fn)  # the wrapper keeps the annotations

    async def run() -> None:
        result = await server.call_tool("counted", {"count": 3})
        assert isinstance(result, CallToolResult)
        assert result.structured_content == {"count": 3}
        failed = await server.call_tool("failed", {})
        assert isinstance(failed, CallToolResult) and failed.is_error
        with pytest.raises(UnexpectedToolError) as caught:
            await server.call_tool("coerced", {"count": 5})
        assert isinstance(caught.value.__cause__, OutputSchemaError)
        assert '"5" is not of type "integer"' in str(caught.value.__cause__)

    anyio.run(run)


def test_a_schema_that_does_not_compile_keeps_the_sdk_check() -> None:
    server = build()
    tool = server._tool_manager.get_tool("counted")
    assert tool is not None
    tool.fn_metadata.output_model = Count
    tool.fn_metadata.output_schema = {"$ref": "https://example.invalid/count.json"}
    checked = tool.fn
    check_structured_output(tool)  # a remote reference: the compiled validator is refused
    assert tool.fn_metadata.output_model is Count
    assert tool.fn is checked
