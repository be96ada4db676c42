"""Each server as a real process: over stdio as MCP clients launch it, and over streamable HTTP
on loopback with DNS-rebinding protection and bearer tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from servers.files.server import file_uri
from tests.support import (
    MODES,
    REPO,
    ResourceUpdates,
    http_server,
    poke_until,
    stdio_client,
    stdio_params,
    text_of,
)

pytestmark = pytest.mark.anyio

PLAN = [{"step": "Write the tests", "status": "in_progress"}]
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-http-test", "version": "1"},
    },
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = (tmp_path / "ws").resolve()
    root.mkdir()
    (root / "hello.txt").write_text("hello\nover the wire\n")
    (root / "sub").mkdir()
    (root / "sub" / "x.py").write_text("x = 1\n")
    return root


async def post_initialize(url: str, **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers})


def http_client(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30))


# --- stdio ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_files_over_stdio(mode: str, workspace: Path) -> None:
    async with stdio_client("servers.files", "--root", str(workspace), mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"read_file", "list_dir", "view_image"}
        result = await client.call_tool("read_file", {"path": "hello.txt", "offset": 2})
        assert not result.is_error and text_of(result) == "2\tover the wire"
        listing = await client.call_tool("list_dir", {})
        assert "sub/\n  x.py" in text_of(listing)
        refused = await client.call_tool("read_file", {"path": "/etc/passwd"})
        assert refused.is_error and "outside the workspace" in text_of(refused)


async def test_files_over_stdio_notifies_legacy_subscribers(workspace: Path) -> None:
    updates = ResourceUpdates()
    uri = file_uri(workspace / "hello.txt")
    async with Client(
        stdio_params("servers.files", "--root", str(workspace)),
        mode="legacy",
        message_handler=updates,
    ) as client:
        await client.subscribe_resource(uri)
        await poke_until(
            lambda: updates.wait_for(uri), lambda: (workspace / "hello.txt").write_text("new\n")
        )


async def test_files_over_stdio_notifies_modern_listeners(workspace: Path) -> None:
    uri = file_uri(workspace / "hello.txt")
    async with stdio_client("servers.files", "--root", str(workspace), mode="auto") as client:
        assert client.session.protocol_version == "2026-07-28"
        async with client.listen(resource_subscriptions=[uri]) as sub:
            event = await poke_until(
                sub.__anext__, lambda: (workspace / "hello.txt").write_text("newer\n")
            )
    assert str(getattr(event, "uri", "")) == uri


async def test_plan_over_stdio_survives_a_restart(workspace: Path, tmp_path: Path) -> None:
    state = tmp_path / "plan-state.json"
    args = ("--root", str(workspace), "--state-file", str(state))
    async with stdio_client("servers.plan", *args, mode="legacy") as client:
        result = await client.call_tool("update_plan", {"plan": PLAN, "explanation": "go"})
        assert not result.is_error
    assert state.exists()
    async with stdio_client("servers.plan", *args, mode="auto") as client:
        got = await client.call_tool("get_plan", {})
    assert got.structured_content is not None
    assert got.structured_content["plan"] == PLAN
    assert got.structured_content["explanation"] == "go"


def test_bad_root_exits_with_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "servers.files", "--root", str(tmp_path / "missing")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "is not a directory" in proc.stderr


# --- streamable HTTP --------------------------------------------------------------------------


async def test_files_over_http(workspace: Path) -> None:
    async with http_server("servers.files", "--root", str(workspace)) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        for mode in MODES:
            async with Client(url, mode=mode) as client:
                result = await client.call_tool("read_file", {"path": "hello.txt"})
                assert not result.is_error, mode
                assert text_of(result) == "1\thello\n2\tover the wire"
                assert result.structured_content is not None
                assert result.structured_content["lines"] == ["hello", "over the wire"]

        port = url.split(":")[2].split("/")[0]
        ok = await post_initialize(url, host=f"localhost:{port}", origin=f"http://localhost:{port}")
        assert ok.status_code == 200
        # DNS rebinding: a page on evil.example whose name now points at 127.0.0.1.
        wrong_host = await post_initialize(url, host=f"evil.example:{port}")
        assert wrong_host.status_code == 421
        assert "Invalid Host header" in wrong_host.text
        wrong_origin = await post_initialize(url, origin="http://evil.example")
        assert wrong_origin.status_code == 403
        assert "Invalid Origin header" in wrong_origin.text
        lookalike = await post_initialize(url, origin=f"http://127.0.0.1.evil.example:{port}")
        assert lookalike.status_code == 403


async def test_allow_host_accepts_named_host_only(workspace: Path) -> None:
    async with http_server(
        "servers.files", "--root", str(workspace), "--allow-host", "devbox.lan"
    ) as url:
        port = url.split(":")[2].split("/")[0]
        named = await post_initialize(url, host=f"devbox.lan:{port}")
        assert named.status_code == 200
        other = await post_initialize(url, host=f"evil.example:{port}")
        assert other.status_code == 421


async def test_plan_over_http(workspace: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    async with http_server(
        "servers.plan", "--root", str(workspace), "--state-file", str(state)
    ) as url:
        for mode in MODES:
            async with Client(url, mode=mode) as client:
                result = await client.call_tool("update_plan", {"plan": PLAN})
                assert not result.is_error, mode
                got = await client.call_tool("get_plan", {})
                assert got.structured_content is not None
                assert got.structured_content["plan"] == PLAN
        wrong_host = await post_initialize(url, host="attacker.test")
        assert wrong_host.status_code == 421
        wrong_origin = await post_initialize(url, origin="https://attacker.test")
        assert wrong_origin.status_code == 403


async def test_plan_over_http_notifies_subscribers(workspace: Path, tmp_path: Path) -> None:
    args = ("--root", str(workspace), "--state-file", str(tmp_path / "state.json"))
    async with http_server("servers.plan", *args) as url:
        updates = ResourceUpdates()
        async with Client(url, mode="legacy", message_handler=updates) as legacy:
            await legacy.subscribe_resource("plan://current")
            await legacy.call_tool("update_plan", {"plan": PLAN})
            with anyio.fail_after(10):
                await updates.wait_for("plan://current")
        async with (
            Client(url, mode="auto") as modern,
            modern.listen(resource_subscriptions=["plan://current"]) as sub,
        ):
            await modern.call_tool("update_plan", {"plan": PLAN})
            with anyio.fail_after(10):
                event = await sub.__anext__()
            assert str(getattr(event, "uri", "")) == "plan://current"


@pytest.mark.parametrize(
    ("module", "how"), [("servers.files", "--token"), ("servers.plan", "TOOLWIRE_TOKEN")]
)
async def test_bearer_token_is_required(
    module: str, how: str, workspace: Path, tmp_path: Path
) -> None:
    token = "s3cret-Token"
    args = ["--root", str(workspace)]
    if module == "servers.plan":
        args += ["--state-file", str(tmp_path / "state.json")]
    env = {"TOOLWIRE_TOKEN": token} if how == "TOOLWIRE_TOKEN" else {}
    if how == "--token":
        args += ["--token", token]
    async with http_server(module, *args, env=env) as url:
        missing = await post_initialize(url)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert "unauthorized" in missing.text
        wrong = await post_initialize(url, authorization="Bearer not-the-token")
        assert wrong.status_code == 401
        not_bearer = await post_initialize(url, authorization=token)
        assert not_bearer.status_code == 401
        right = await post_initialize(url, authorization=f"Bearer {token}")
        assert right.status_code == 200
        # The token does not switch off rebinding protection.
        both = await post_initialize(url, authorization=f"Bearer {token}", host="evil.example")
        assert both.status_code == 421

        tool = "read_file" if module == "servers.files" else "get_plan"
        arguments = {"path": "hello.txt"} if module == "servers.files" else {}
        for mode in MODES:
            async with Client(http_client(url, token), mode=mode) as client:
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, mode
        # Through the SDK client, a wrong token fails the connection (the 401 becomes an error).
        with pytest.RaisesGroup(MCPError, flatten_subgroups=True, allow_unwrapped=True):
            async with Client(http_client(url, "wrong"), mode="legacy") as client:
                await client.call_tool(tool, arguments)
