"""A tool server for the stdio transport's tests: ``python -m tests.common.stdio_app``.

It starts through ``run_server`` like the bundled servers. Its tools misbehave on the wire's
behalf (stray prints, a child writing to stdout, results larger than a pipe buffer) and report
what the transport cannot hide (how many threads the process runs). With ``STDIO_APP_FAREWELL``
set it prints ``farewell`` on stdout after the server stops, which shows stdout was restored.
"""

from __future__ import annotations

import os
import string
import sys
import threading
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

from servers.common.runner import run_server
from servers.common.server import new_server

FAREWELL_ENV = "STDIO_APP_FAREWELL"


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
    async def threads() -> int:
        """How many threads this process runs."""
        return threading.active_count()

    return server


def main() -> None:
    run_server("stdio-app", "A server for the stdio tests.", lambda *_: create_server())
    if os.environ.get(FAREWELL_ENV):
        print("farewell")


if __name__ == "__main__":
    main()
