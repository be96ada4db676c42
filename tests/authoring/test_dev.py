"""``toolwire dev``: serves a server under development and restarts it when its files change."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from agent.testing import connect
from servers.common.process import open_group, terminate_group
from tests.support import REPO

pytestmark = pytest.mark.anyio

SERVER = '''
from mcp.server.mcpserver import MCPServer

server = MCPServer("dev-demo")


@server.tool()
async def version() -> str:
    """Say which version of the code is running."""
    return "{version}"
'''


class DevOutput:
    """Reads ``toolwire dev``'s stdout line by line."""

    def __init__(self, proc: Process) -> None:
        assert proc.stdout is not None
        self.stream = proc.stdout
        self.buffer = b""
        self.seen: list[str] = []

    async def until(self, pattern: str) -> re.Match[str]:
        with anyio.fail_after(60):
            while True:
                while b"\n" in self.buffer:
                    raw, self.buffer = self.buffer.split(b"\n", 1)
                    line = raw.decode()
                    self.seen.append(line)
                    if match := re.search(pattern, line):
                        return match
                try:
                    self.buffer += await self.stream.receive()
                except anyio.EndOfStream:
                    raise AssertionError(f"dev exited; output: {self.seen}") from None


@asynccontextmanager
async def dev(directory: Path, *args: str) -> AsyncIterator[DevOutput]:
    argv = [sys.executable, "-m", "agent.cli", "dev", *args]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    proc = await open_group(
        argv, cwd=directory, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    try:
        yield DevOutput(proc)
    finally:
        await terminate_group(proc)
        await proc.aclose()  # close the pipes while the event loop still runs


def serving_processes(url: str) -> list[int]:
    """PIDs of ``agent.testing.serve`` processes started for ``url`` (found by its port)."""
    port = url.rsplit(":", 1)[1].split("/")[0].encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"agent.testing.serve" in argv and port in argv:
                found.append(int(entry.name))
    return found


async def assert_server_stopped(url: str) -> None:
    """The server ``toolwire dev`` started must not outlive it (the orphan guard's job)."""
    with anyio.move_on_after(10):
        while serving_processes(url):
            await anyio.sleep(0.1)
    assert serving_processes(url) == [], f"server for {url} outlived toolwire dev"


async def version_at(url: str) -> str:
    async with connect(url) as tools:
        return (await tools.call("version")).ok().text


@pytest.mark.timeout(180)
async def test_restarts_on_change_and_survives_a_broken_edit(tmp_path: Path) -> None:
    source = tmp_path / "demo_server.py"
    source.write_text(SERVER.format(version="v1"), encoding="utf-8")
    async with dev(tmp_path, "demo_server.py", "--port", "0") as out:
        url = (await out.until(r"serving at (\S+)")).group(1)
        assert (await out.until(r"tools: (.*)")).group(1) == "version"
        assert await version_at(url) == "v1"

        source.write_text(SERVER.format(version="v2"), encoding="utf-8")
        await out.until(r"changed: demo_server\.py; restarting")
        assert (await out.until(r"serving at (\S+)")).group(1) == url  # same address
        await out.until(r"tools: version")
        assert await version_at(url) == "v2"

        source.write_text("this is not python(\n", encoding="utf-8")
        await out.until(r"the server exited with code 1")

        source.write_text(SERVER.format(version="v3"), encoding="utf-8")
        await out.until(r"serving at")
        await out.until(r"tools: version")
        assert await version_at(url) == "v3"


async def test_a_package_and_its_settings_convention(tmp_path: Path) -> None:
    """A toolwire-style package: create_server(settings) built with the workspace root."""
    package = tmp_path / "tiny"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "server.py").write_text(
        "from dataclasses import dataclass\n"
        "from servers.common.server import new_server\n"
        "from servers.common.workspace import Workspace\n\n"
        "@dataclass(frozen=True)\nclass Settings:\n    workspace: Workspace\n\n"
        "def create_server(settings: Settings):\n"
        "    server = new_server('tiny', 'Where am I?')\n\n"
        "    @server.tool()\n    async def version() -> str:\n"
        "        '''The served root.'''\n        return str(settings.workspace.root)\n\n"
        "    return server\n",
        encoding="utf-8",
    )
    root = tmp_path / "served"
    root.mkdir()
    async with dev(tmp_path, "tiny", "--port", "0", "--root", str(root)) as out:
        url = (await out.until(r"serving at (\S+)")).group(1)
        assert await version_at(url) == str(root.resolve())
        assert serving_processes(url)
    await assert_server_stopped(url)
