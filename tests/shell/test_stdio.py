"""The shell server as a real stdio subprocess: what only a separate process can show (SIGKILL of
the server, its peak memory, its exit status, the environment it was launched with)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.shell.conftest import (
    SANDBOXES,
    call,
    marker,
    wait_until_gone,
    wait_until_present,
)
from tests.support import REPO, stdio_params

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def stdio_shell(
    root: Path, *args: str, env: dict[str, str] | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    params = stdio_params("servers.shell", "--root", str(root), *args, env=env)
    async with Client(params, mode=mode) as client:
        yield client


def server_pid(root: Path) -> int:
    """The pid of the ``python -m servers.shell --root <root>`` serving this test."""
    out = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        pid, args = line.split(maxsplit=1)
        if "servers.shell" in args and f"--root {root}" in args:
            return int(pid)
    raise AssertionError(f"no shell server for {root} in ps output:\n{out}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_round_trip_over_stdio(root: Path, mode: str) -> None:
    async with stdio_shell(root, "--sandbox", "danger-full-access", mode=mode) as client:
        data, _text = await call(client, "exec_command", cmd="echo hello; pwd")
    assert data["output"] == f"hello\n{root}\n"
    assert data["exit_code"] == 0


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_sigkilled_server_leaves_no_orphans(root: Path, sandbox: str) -> None:
    mark = marker()
    cmd = (
        # a grandchild ignoring SIGTERM, one in its own process group, and a tty session
        f"sh -c 'trap \"\" TERM; exec sleep {mark}' & timeout 1000 sleep {mark}1 & sleep {mark}2"
    )
    with contextlib.suppress(Exception):  # the client sees its server vanish mid-session
        async with stdio_shell(root, "--sandbox", sandbox) as client:
            data, _ = await call(client, "exec_command", cmd=cmd, yield_time_ms=0)
            assert data["status"] == "running"
            data, _ = await call(
                client, "exec_command", cmd=f"sleep {mark}3", tty=True, yield_time_ms=0
            )
            assert data["status"] == "running"
            assert len(await wait_until_present(mark)) >= 4
            pid = server_pid(root)
            os.kill(pid, signal.SIGKILL)
            with anyio.fail_after(10):
                while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
                    await anyio.sleep(0.02)
    assert await wait_until_gone(mark) == []


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return "gone"
    return stat[stat.rindex(b")") + 2 :].split()[0].decode()


async def test_server_exit_kills_running_sessions(root: Path) -> None:
    mark = marker()
    async with stdio_shell(root, "--sandbox", "danger-full-access") as client:
        await call(client, "exec_command", cmd=f"sleep {mark} & sleep {mark}1", yield_time_ms=0)
        assert await wait_until_present(mark)
    assert await wait_until_gone(mark) == []


async def test_one_gigabyte_with_bounded_server_memory(root: Path) -> None:
    async with stdio_shell(root, "--sandbox", "danger-full-access") as client:
        data, text = await call(
            client,
            "exec_command",
            cmd="yes 'the quick brown fox jumps over the lazy dog' | head -c 1073741824",
            yield_time_ms=120_000,
        )
        rss = peak_rss_mb(server_pid(root))
    assert data["status"] == "exited"
    assert data["output_bytes"] == 1 << 30
    assert data["output_lines"] == (1 << 30) // 44 + 1
    assert len(data["output"].encode()) < 45_000  # max_output_tokens=10000 -> about 40 KB
    assert "1.0 GB" in text
    print(f"server peak RSS {rss:.0f} MB")
    assert rss < 150, f"server peak RSS {rss:.0f} MB"


async def test_environment_filtering(root: Path) -> None:
    env = {
        "MY_API_KEY": "k",
        "DB_secret_PASSWORD": "s",
        "GH_TOKEN": "t",
        "KEEP_TOKEN": "kept",
        "DROPME_TOO": "d",
        "PLAIN": "p",
    }
    script = "; ".join(f"echo {name}=${{{name}-unset}}" for name in [*env, "ADDED", "PAGER"])
    async with stdio_shell(
        root,
        "--sandbox",
        "danger-full-access",
        "--env-keep",
        "keep_*",
        "--env-exclude",
        "dropme*",
        "--env-set",
        "ADDED=yes",
        env=env,
    ) as client:
        data, _ = await call(client, "exec_command", cmd=script)
    assert data["output"].splitlines() == [
        "MY_API_KEY=unset",
        "DB_secret_PASSWORD=unset",
        "GH_TOKEN=unset",
        "KEEP_TOKEN=kept",
        "DROPME_TOO=unset",
        "PLAIN=p",
        "ADDED=yes",
        "PAGER=cat",
    ]


async def test_env_inherit_none(root: Path) -> None:
    async with stdio_shell(
        root,
        "--sandbox",
        "danger-full-access",
        "--env-inherit",
        "none",
        "--login-shell",
        "never",
        env={"PLAIN": "p"},
    ) as client:
        data, _ = await call(client, "exec_command", cmd="echo ${PLAIN-unset} ${HOME-unset} $TERM")
    assert data["output"] == "unset unset dumb\n"


def test_refuses_to_start_without_a_working_sandbox(root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "servers.shell", "--root", str(root), "--bwrap", "/nonexistent"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "needs bubblewrap" in done.stderr
    assert "--sandbox-fallback=unsandboxed" in done.stderr


async def test_fallback_reports_the_real_mode(root: Path) -> None:
    async with stdio_shell(
        root, "--bwrap", "/nonexistent", "--sandbox-fallback", "unsandboxed"
    ) as client:
        data, text = await call(client, "exec_command", cmd="true")
    assert data["sandbox"] == "danger-full-access"
    assert any("UNSANDBOXED" in note for note in data["notes"])
    assert "[sandbox: danger-full-access]" in text
