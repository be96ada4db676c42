"""``tests/common/stdio_app.py`` as a child process on pipes the test owns, spoken to line by line.

Every line the server writes is read as JSON-RPC, so a stray byte on the wire fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio

from tests.support import REPO, stop_process_group

COMMAND = [sys.executable, "-m", "tests.common.stdio_app"]
INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "raw-stdio-test", "version": "1"},
}


class RawServer:
    """The app as a child process, spoken to line by line over pipes this test owns (so it can
    really close its end of stdout); blocking pipe I/O runs in worker threads."""

    def __init__(self, env: dict[str, str] | None = None, stderr: int = subprocess.PIPE) -> None:
        self.process = subprocess.Popen(
            COMMAND,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        assert self.process.stdin and self.process.stdout
        self.stdin = self.process.stdin
        self.stdout = self.process.stdout
        self.stderr = b""
        self.stderr_done = anyio.Event()
        self.last_id = 0

    async def collect_stderr(self) -> None:
        if self.process.stderr is not None:
            self.stderr = await anyio.to_thread.run_sync(self.process.stderr.read)
        self.stderr_done.set()

    async def send_bytes(self, data: bytes) -> None:
        def write() -> None:
            self.stdin.write(data)
            self.stdin.flush()

        await anyio.to_thread.run_sync(write)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_bytes(json.dumps(message).encode() + b"\n")

    async def send_request(self, method: str, params: dict[str, Any]) -> int:
        self.last_id += 1
        await self.send({"jsonrpc": "2.0", "id": self.last_id, "method": method, "params": params})
        return self.last_id

    async def close_stdin(self) -> None:
        await anyio.to_thread.run_sync(self.stdin.close)

    async def receive(self) -> dict[str, Any]:
        """The next line on stdout, which must be one JSON-RPC message."""
        line = await anyio.to_thread.run_sync(self.stdout.readline)
        message: dict[str, Any] = json.loads(line)
        assert message.get("jsonrpc") == "2.0", message
        return message

    async def response(self, request_id: int) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message.get("id") == request_id:
                return message

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = await self.response(await self.send_request(method, params))
        assert "result" in reply, reply
        result: dict[str, Any] = reply["result"]
        return result

    async def handshake(self) -> None:
        await self.request("initialize", INITIALIZE)
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, tool: str, **arguments: Any) -> str:
        result = await self.request("tools/call", {"name": tool, "arguments": arguments})
        assert not result.get("isError"), result
        return "".join(block["text"] for block in result["content"])

    async def exit_code(self) -> int:
        with anyio.fail_after(20):
            while (code := self.process.poll()) is None:
                await anyio.sleep(0.02)
            await self.stderr_done.wait()
        return code

    async def rest_of_stdout(self) -> bytes:
        return await anyio.to_thread.run_sync(self.stdout.read)

    def stderr_text(self) -> str:
        return self.stderr.decode(errors="replace")


@asynccontextmanager
async def raw_server(
    env: dict[str, str] | None = None, stderr: int = subprocess.PIPE
) -> AsyncIterator[RawServer]:
    server = RawServer(env, stderr)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.collect_stderr)
            try:
                yield server
            finally:
                if server.process.poll() is None:  # a failed test: unblock every reader
                    stop_process_group(server.process, timeout=1)
    finally:
        for pipe in (server.stdin, server.stdout, server.process.stderr):
            with suppress(OSError):
                pipe and pipe.close()
