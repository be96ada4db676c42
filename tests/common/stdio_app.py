"""A tool server for the stdio transport's tests: ``python -m tests.common.stdio_app``.

It starts through ``run_server`` like the bundled servers. Its tools misbehave on the wire's
behalf (stray prints, a child writing to stdout, results larger than a pipe buffer) and report
what the transport cannot hide (how many threads the process runs, how many calls took the
``ToolCallLane``). With ``STDIO_APP_FAREWELL`` set it prints ``farewell`` on stdout after the
server stops, which shows stdout was restored; with ``STDIO_APP_SDK_ONLY`` set the lane is off,
so its answers can be compared with the SDK's.
"""

from __future__ import annotations

import gc
import os
import string
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from servers.common.directcall import DirectTools
from servers.common.fastcall import ToolCallLane
from servers.common.results import tool_result
from servers.common.runner import run_server
from servers.common.server import new_server

FAREWELL_ENV = "STDIO_APP_FAREWELL"
SDK_ONLY_ENV = "STDIO_APP_SDK_ONLY"
"""Set: every message takes the SDK's path (no ``ToolCallLane``), to compare the two."""
served_by_lane = 0
"""Calls the lane served in this process (``lane_calls`` tool)."""
served_directly = 0
"""Calls the lane served without the SDK's ``serve_one`` (``direct_calls`` tool)."""


class Entry(BaseModel):
    key: str
    value: int | None = None


class Report(BaseModel):
    """What the ``report`` tool returns as structured content."""

    label: str
    count: int
    note: str | None = None
    entries: list[Entry]


def pattern(size: int) -> str:
    """``size`` characters that are not all alike, so a lost or reordered chunk shows."""
    alphabet = string.ascii_letters + string.digits
    return (alphabet * (size // len(alphabet) + 1))[:size]


def create_server() -> MCPServer[Any]:
    server = new_server("stdio-test", "Tools that test the stdio transport.")

    @server.tool()
    async def echo(text: str) -> str:
        """Return ``text``."""
        return text

    @server.tool()
    async def stray_output() -> str:
        """Write to stdout three ways: a buffered print, a flushed print, the raw descriptor."""
        print("stray buffered print")
        print("stray flushed print", flush=True)
        os.write(1, b"stray raw write\n")
        return "printed"

    @server.tool()
    async def child_output() -> str:
        """Run a child process that inherits stdout and writes to it."""
        code = "print('stray child output')"
        await anyio.run_process([sys.executable, "-c", code], stdout=None, stderr=None)
        return "child ran"

    @server.tool()
    async def big(size: int) -> str:
        """Return ``size`` characters."""
        return pattern(size)

    @server.tool()
    async def later(index: int, delay: float) -> int:
        """Return ``index`` after ``delay`` seconds."""
        await anyio.sleep(delay)
        return index

    @server.tool()
    async def frozen_objects() -> int:
        """How many objects the garbage collector leaves alone for good (``gc.freeze``)."""
        return gc.get_freeze_count()

    @server.tool()
    async def threads() -> int:
        """How many threads this process runs."""
        return threading.active_count()

    @server.tool()
    async def fails(message: str) -> str:
        """Fail with ``message``."""
        raise ToolError(message)

    @server.tool()
    async def steps(count: int, ctx: Context) -> str:
        """Report ``count`` progress steps and log each."""
        for step in range(count):
            await ctx.report_progress(step + 1, count, f"step {step + 1}")
            await ctx.info(f"did step {step + 1}")
        return "done"

    @server.tool()
    async def wait_for_cancel(path: str) -> str:
        """Sleep until cancelled, then write ``cancelled`` to ``path``."""
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            Path(path).write_text("cancelled")
            raise
        return "slept"

    @server.tool()
    async def report(
        label: str, count: int = 1, mode: str = "ok"
    ) -> Annotated[CallToolResult, Report]:
        """A structured result, or one of the ways a structured tool can fail (``mode``)."""
        if mode == "tool_error":
            raise ToolError(f"cannot report {label}")
        if mode == "protocol_error":
            raise MCPError(code=-32042, message="refused by policy", data={"label": label})
        if mode == "crash":
            raise RuntimeError("an internal detail the client must not see")
        if mode == "off_schema":
            wrong = {"label": label, "count": str(count), "entries": []}
            return CallToolResult(
                content=[TextContent(type="text", text=label)], structured_content=wrong
            )
        if mode == "error_result":
            text = TextContent(type="text", text=f"{label} went wrong")
            return CallToolResult(content=[text], is_error=True)
        entries = [Entry(key=f"{label}-{i}", value=None if i % 2 else i) for i in range(count)]
        return tool_result(Report(label=label, count=count, entries=entries), f"{label}: {count}")

    @server.tool()
    async def wait_for_cancel_structured(path: str) -> Annotated[CallToolResult, Report]:
        """``wait_for_cancel`` with a structured result (a call the lane runs directly)."""
        await wait_for_cancel(path)
        return tool_result(Report(label="slept", count=0, entries=[]), "slept")

    @server.tool()
    async def direct_calls() -> int:
        """How many calls the lane has served without the SDK's request kernel so far."""
        return served_directly

    @server.tool()
    async def lane_calls() -> int:
        """How many calls the ToolCallLane has served so far."""
        return served_by_lane

    return server


def _count_lane_calls() -> None:
    start = ToolCallLane._start

    def counted(self: ToolCallLane, line: bytes) -> bool:
        global served_by_lane
        taken = start(self, line)
        served_by_lane += taken
        return taken

    ToolCallLane._start = counted  # type: ignore[method-assign]
    call = DirectTools.call

    async def counted_call(self: DirectTools, params: Any) -> dict[str, Any]:
        global served_directly
        served_directly += 1
        return await call(self, params)

    DirectTools.call = counted_call  # type: ignore[method-assign]


def main() -> None:
    if os.environ.get(SDK_ONLY_ENV):
        ToolCallLane.take = lambda self, line: False  # type: ignore[method-assign]
    else:
        _count_lane_calls()
    run_server("stdio-app", "A server for the stdio tests.", lambda *_: create_server())
    if os.environ.get(FAREWELL_ENV):
        print("farewell")


if __name__ == "__main__":
    main()
