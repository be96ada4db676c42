"""The client configuration snippets in examples/clients/ work as written.

Each is read by the code the hub uses for its format (``.mcp.json`` as Claude Code and Cursor
write it, Codex's ``[mcp_servers]`` TOML), with only the placeholders replaced (this checkout's
venv for ``/path/to/toolwire/.venv/bin``, real ports for the HTTP ones), then started by the hub:
every server must come up with its tools, and a call must go through. (The Cursor and Codex
stdio snippets are resolved to their launch commands without starting them: the same servers
were just started from the Claude Code snippet.)
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import anyio
import pytest

from agent.config import Settings, load_settings
from agent.hub import Hub
from agent.hub.spec import StdioLaunch, resolve
from tests.support import REPO, http_server

pytestmark = pytest.mark.anyio

CLIENTS = REPO / "examples" / "clients"
BIN = str(Path(sys.executable).parent)
SERVERS = ["toolwire-files", "toolwire-search", "toolwire-patch", "toolwire-shell", "toolwire-plan"]
PORTS = {8765: "files", 8766: "search", 8767: "patch", 8768: "shell", 8769: "plan"}


def snippet(name: str, **replace: str) -> str:
    text = (CLIENTS / name).read_text(encoding="utf-8")
    text = text.replace("/path/to/toolwire/.venv/bin", BIN)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def settings_for(workspace: Path, tmp_path: Path, *, codex: Path | None = None) -> Settings:
    return load_settings(
        workspace,
        user_config=codex,
        bundled=(),
        entry_points=False,
        cache_dir=tmp_path / "cache",
    )


async def check_started(settings: Settings, workspace: Path) -> None:
    assert sorted(s.name for s in settings.servers) == sorted(SERVERS)
    assert settings.warnings == (), "every key in the snippet should mean something to us"
    async with Hub.start(settings, wait=True) as hub:
        for status in hub.servers:
            assert status.status == "ready", f"{status.name}: {status.error}\n{status.stderr}"
            assert status.tools > 0
        by_server = {e.server for e in hub.entries}
        assert by_server == set(SERVERS)
        read = next(e.name for e in hub.entries if e.original == "read_file")
        output = await hub.call(read, json.dumps({"path": "hello.txt"}), "call_1")
    assert "hello from the workspace" in str(output["output"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the workspace\n", encoding="utf-8")
    return root


async def test_claude_code_stdio(workspace: Path, tmp_path: Path) -> None:
    (workspace / ".mcp.json").write_text(snippet("claude-code.mcp.json"), encoding="utf-8")
    await check_started(settings_for(workspace, tmp_path), workspace)


def check_launches(settings: Settings, workspace: Path, *, rooted: bool) -> None:
    """Without starting anything: each server resolves (as the hub resolves it at start) to an
    installed console script serving ``workspace``, by ``--root`` or by working directory."""
    assert sorted(s.name for s in settings.servers) == sorted(SERVERS)
    assert settings.warnings == ()
    for config in settings.servers:
        launch = resolve(config, workspace)
        assert isinstance(launch, StdioLaunch), config.name
        assert launch.argv[0] == f"{BIN}/{config.name}" and os.access(launch.argv[0], os.X_OK)
        if rooted:
            assert launch.argv[1:] == ("--root", str(workspace)), launch.argv
        else:
            assert launch.argv[1:] == () and launch.cwd == workspace


def test_cursor_stdio(workspace: Path, tmp_path: Path) -> None:
    """Same format as Claude Code's (started above), plus Cursor's ${workspaceFolder}."""
    (workspace / ".mcp.json").write_text(snippet("cursor.mcp.json"), encoding="utf-8")
    check_launches(settings_for(workspace, tmp_path), workspace, rooted=True)


def test_codex_config_stdio(workspace: Path, tmp_path: Path) -> None:
    config = tmp_path / "codex-home" / "config.toml"
    config.parent.mkdir()
    config.write_text(snippet("codex.config.toml"), encoding="utf-8")
    settings = settings_for(workspace, tmp_path, codex=config)
    assert settings.server("toolwire-shell").tool_timeout_sec == 600
    check_launches(settings, workspace, rooted=False)  # Codex starts servers where it runs


async def test_streamable_http(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three HTTP snippets against one set of servers started with ``--http --token``."""
    monkeypatch.setenv("TOOLWIRE_TOKEN", "s3cret-token")
    urls: dict[int, str] = {}
    all_up, finished = anyio.Event(), anyio.Event()

    async def serve(port: int, server: str) -> None:
        args = ["--root", str(workspace), "--token", "s3cret-token"]
        async with http_server(f"servers.{server}", *args) as url:
            urls[port] = url
            if len(urls) == len(PORTS):
                all_up.set()
            await finished.wait()

    async with anyio.create_task_group() as tasks:
        for port, server in PORTS.items():
            tasks.start_soon(serve, port, server)
        with anyio.fail_after(60):
            await all_up.wait()
        try:
            for name in ("claude-code-http.mcp.json", "cursor-http.mcp.json"):
                (workspace / ".mcp.json").write_text(with_ports(name, urls), encoding="utf-8")
                await check_started(settings_for(workspace, tmp_path), workspace)
            (workspace / ".mcp.json").unlink()
            config = tmp_path / "config.toml"
            config.write_text(with_ports("codex-http.config.toml", urls), encoding="utf-8")
            await check_started(settings_for(workspace, tmp_path, codex=config), workspace)
        finally:
            finished.set()


def with_ports(name: str, urls: dict[int, str]) -> str:
    text = snippet(name)
    for port, url in urls.items():
        text = text.replace(f"http://127.0.0.1:{port}/mcp", url)
    assert not re.search(r"127\.0\.0\.1:87\d\d", text), "every port replaced"
    return text
