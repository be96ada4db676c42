"""Helpers for tests that run servers for real: as stdio subprocesses or HTTP on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import ResourceUpdatedNotification

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
_URL = re.compile(rb"serving MCP at (http://\S+)")
T = TypeVar("T")


def stdio_params(
    module: str, *args: str, env: dict[str, str] | None = None
) -> StdioServerParameters:
    """Launch ``python -m <module> <args>`` with this interpreter, as an MCP client would."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", module, *args], cwd=str(REPO), env=env or {}
    )


@asynccontextmanager
async def stdio_client(module: str, *args: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with Client(stdio_params(module, *args), mode=mode) as client:  # type: ignore[arg-type]
        yield client


@asynccontextmanager
async def http_server(
    module: str, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """Start ``python -m <module> --http --port 0 <args>``; yield its ``/mcp`` URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--http", "--port", "0", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        seen = b""
        with anyio.fail_after(30):
            while (match := _URL.search(seen)) is None:
                line = await anyio.to_thread.run_sync(proc.stderr.readline)
                if not line:
                    raise RuntimeError(f"{module} exited before serving: {seen.decode()}")
                seen += line
        yield match.group(1).decode()
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 5) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def text_of(result: object) -> str:
    """All text blocks of a CallToolResult, joined."""
    content: Sequence[object] = getattr(result, "content", [])
    return "\n".join(getattr(block, "text", "") for block in content)


MODES = ("legacy", "auto")
"""Both MCP eras: the initialize handshake (2025-11-25) and the stateless 2026-07-28 revision."""


class ResourceUpdates:
    """A ``message_handler`` that records ``notifications/resources/updated`` URIs in order."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self._changed = anyio.Event()

    async def __call__(self, message: object) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.uris.append(str(message.params.uri))
            self._changed.set()
            self._changed = anyio.Event()

    async def wait_for(self, uri: str, count: int = 1) -> None:
        """Return once ``uri`` has been notified ``count`` times in all."""
        while self.uris.count(uri) < count:
            await self._changed.wait()


async def poke_until(
    waiter: Callable[[], Awaitable[T]], poke: Callable[[], object], *, every: float = 0.3
) -> T:
    """Call ``poke`` (e.g. change a watched file) repeatedly until ``waiter`` returns.

    A file watcher starts asynchronously after a subscription, so one change made right away can
    go unseen; repeating it until the notification arrives needs no guess at how long that takes.
    Fails after 20 s.
    """
    async with anyio.create_task_group() as tg:

        async def poker() -> None:
            while True:
                result = poke()
                if hasattr(result, "__await__"):
                    await result  # type: ignore[misc]
                await anyio.sleep(every)

        tg.start_soon(poker)
        with anyio.fail_after(20):
            value = await waiter()
        tg.cancel_scope.cancel()
    return value
