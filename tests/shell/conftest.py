"""Fixtures for the shell server tests: in-process clients, process checks with ``ps``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from servers.common.workspace import Workspace
from servers.shell import ShellSettings, create_server
from servers.shell.sandbox import probe_bwrap

PROBE = probe_bwrap()
needs_bwrap = pytest.mark.skipif(
    not PROBE.ok,
    reason=f"bubblewrap cannot sandbox on this machine ({PROBE.reason}); "
    "CI installs the Debian package bubblewrap so these run there",
)

_marker_counter = iter(range(1, 1_000_000))


def marker() -> str:
    """A unique ``sleep`` duration: it names the process in ``ps`` output and lasts an hour+."""
    return f"{int(time.time() * 1000) % 10_000_000 + 3600}.{next(_marker_counter)}"


def live_pids(mark: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line contains ``mark``."""
    out = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True
    ).stdout
    pids = []
    for line in out.splitlines():
        pid, stat, args = line.split(maxsplit=2)
        if mark in args and not stat.startswith("Z") and not args.startswith("ps "):
            pids.append(int(pid))
    return pids


async def wait_until_gone(mark: str, within: float = 15.0) -> list[int]:
    """Poll ``ps`` until nothing carries ``mark``; return what is still alive at the deadline."""
    with anyio.move_on_after(within):
        while live_pids(mark):
            await anyio.sleep(0.05)
    return live_pids(mark)


async def wait_until_present(mark: str, within: float = 15.0) -> list[int]:
    with anyio.move_on_after(within):
        while not live_pids(mark):
            await anyio.sleep(0.02)
    return live_pids(mark)


def settings_for(root: Path, **overrides: Any) -> ShellSettings:
    """Defaults for tests: no sandbox unless asked, no login profile (fast), short grace."""
    values: dict[str, Any] = {
        "sandbox": "danger-full-access",
        "login_shell": "never",
        "kill_grace": 0.5,
    }
    values.update(overrides)
    return ShellSettings(workspace=Workspace.from_paths([root]), **values)


@asynccontextmanager
async def shell_client(root: Path, mode: str = "auto", **overrides: Any) -> AsyncIterator[Client]:
    server = create_server(settings_for(root, **overrides))
    async with Client(server, mode=mode) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> tuple[dict[str, Any], str]:
    """Call a tool that must succeed; return (structuredContent, text)."""
    result = await client.call_tool(tool, arguments)
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    assert result.structured_content is not None
    return result.structured_content, text


async def call_error(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert result.is_error, text
    return text


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


@pytest.fixture(params=["legacy", "auto"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


SANDBOXES = [
    pytest.param("danger-full-access", id="unsandboxed"),
    pytest.param("workspace-write", id="bwrap", marks=needs_bwrap),
]
