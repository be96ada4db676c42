"""The hub's lean ``tools/call`` path (agent.hub.fastcall) against the SDK's own dispatcher.

Every test runs real servers over real pipes: the SDK-built misbehaving server (2026-07-28 and
handshake-era), and ``servers/rawcall.py``, a hand-written one whose answers are scripted and
which logs every line it receives. Where behaviour must be the SDK's, the same test runs with
the lean path on and off (``lean``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp_types import (
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    REQUEST_TIMEOUT,
    LoggingMessageNotificationParams,
    ToolListChangedNotification,
)

from agent.hub import ERROR_PREFIX, Hub, as_text
from agent.hub.fastcall import FastToolCalls
from agent.hub.spec import StdioLaunch
from agent.hub.stdio import StdioTransport
from agent.hub.validation import HubClient
from tests.hub.conftest import MISBEHAVE, make_settings, server_toml

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
RAWCALL = Path(__file__).resolve().parent / "servers" / "rawcall.py"
SERVERS = {
    "modern": (str(MISBEHAVE),),
    "legacy": (str(MISBEHAVE), "--legacy"),
}
both_paths = pytest.mark.parametrize("lean", [True, False], ids=["lean", "sdk"])


def hub_client(*args: str, lean: bool = True, **options: Any) -> HubClient:
    """``python <args>`` as the hub runs a stdio server: HubClient over StdioTransport."""
    launch = StdioLaunch(argv=(sys.executable, *args), env=dict(os.environ), cwd=REPO)
    client = HubClient(StdioTransport(launch), mode="auto", **options)
    client.lean_tool_calls = lean
    return client


@asynccontextmanager
async def connected(*args: str, lean: bool = True, **options: Any) -> AsyncIterator[HubClient]:
    """A connected client whose dispatcher is the one ``lean`` asks for; on leaving, no
    request is left claimed on the transport."""
    client = hub_client(*args, lean=lean, **options)
    async with client:
        dispatcher = client.session._dispatcher
        assert isinstance(dispatcher, FastToolCalls if lean else JSONRPCDispatcher)
        yield client
        assert not transport(client)._replies
    assert not transport(client)._replies


def transport(client: HubClient) -> StdioTransport:
    assert isinstance(client.server, StdioTransport)
    return client.server


def lean_calls(client: HubClient) -> int:
    dispatcher = client.session._dispatcher
    return dispatcher.lean_calls if isinstance(dispatcher, FastToolCalls) else 0


def received(log: Path) -> list[dict[str, Any]]:
    """What the raw server has read so far, one JSON object per line."""
    text = log.read_text() if log.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def wait_received(
    log: Path, found: Callable[[dict[str, Any]], bool], limit: float = 10
) -> dict[str, Any]:
    with anyio.fail_after(limit):
        while True:
            for message in received(log):
                if found(message):
                    return message
            await anyio.sleep(0.02)


def call_of(tool: str) -> Callable[[dict[str, Any]], bool]:
    def found(message: dict[str, Any]) -> bool:
        return message.get("method") == "tools/call" and message["params"]["name"] == tool

    return found


def cancel_of(request_id: object) -> Callable[[dict[str, Any]], bool]:
    def found(message: dict[str, Any]) -> bool:
        return (
            message.get("method") == "notifications/cancelled"
            and message["params"]["requestId"] == request_id
        )

    return found


async def outcome(client: HubClient, tool: str, arguments: dict[str, Any]) -> object:
    """A call's result, or the exception it raised, in a form two clients can compare."""
    try:
        result = await client.call_tool(tool, arguments)
    except MCPError as exc:
        return ("MCPError", exc.error.code, exc.error.message, exc.error.data)
    except Exception as exc:
        return (type(exc).__name__, str(exc))
    return result.model_dump(by_alias=True, exclude_none=True)


# ---------------------------------------------------------------- same results as the SDK path

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("echo", {"text": "héllo \u2028 wörld"}),
    ("noop", {}),
    ("fail", {}),  # a tool error: isError result
    ("echo", {"text": 5}),  # invalid arguments
    ("echo", {}),  # a required argument missing
    ("no_such_tool", {}),
    ("structured", {}),
    ("image", {}),
    ("reading", {}),
    ("reading", {"valid": False}),  # breaks its output schema: the SDK's RuntimeError
    ("huge", {"size": 20_000}),
    ("optional_args", {"path": "p", "items": [{"name": "a"}], "mode": "slow"}),
    ("optional_args", {"path": "p", "depth": 0}),  # out of range
]


@pytest.mark.parametrize("server", SERVERS)
async def test_results_match_the_sdk_path(server: str) -> None:
    args = SERVERS[server]
    async with connected(*args, lean=True) as lean, connected(*args, lean=False) as sdk:
        assert lean.protocol_version == sdk.protocol_version
        for tool, arguments in CALLS:
            assert await outcome(lean, tool, arguments) == await outcome(sdk, tool, arguments)
        assert lean_calls(lean) == len(CALLS)


@both_paths
async def test_json_rpc_errors_and_string_ids(lean: bool, tmp_path: Path) -> None:
    async with connected(str(RAWCALL), str(tmp_path / "log"), lean=lean) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("rpc_error", {})
        assert caught.value.error.code == -32602
        assert caught.value.error.message == "Unknown tool: nope"
        assert caught.value.error.data == {"tool": "nope"}
        # The server echoes the id as a string ("7" for 7): it still correlates.
        with anyio.fail_after(10):
            result = await client.call_tool("string_id", {})
        assert result.content[0].text == "string id"  # type: ignore[union-attr]
        assert lean_calls(client) == (2 if lean else 0)


async def test_the_request_is_the_bytes_the_sdk_writes(tmp_path: Path) -> None:
    logs = {lean: tmp_path / f"log-{lean}" for lean in (True, False)}
    arguments = {"text": "ä \u2028 \U0001f600", "n": 1.5, "big": 10**20, "list": [None, True]}
    for lean, log in logs.items():
        async with connected(str(RAWCALL), str(log), lean=lean) as client:
            await client.call_tool("echo", arguments)
            meta: Any = {"example.com/note": "kept"}
            await client.session.call_tool("echo", {"text": "x"}, meta=meta)

    def calls(log: Path) -> list[bytes]:
        return [line for line in log.read_bytes().splitlines() if b'"tools/call"' in line]

    assert calls(logs[True]) == calls(logs[False])
    assert len(calls(logs[True])) == 2


# ---------------------------------------------------------------- the lean path is taken, right


async def test_concurrent_calls_get_their_own_results(tmp_path: Path) -> None:
    results: dict[int, str] = {}
    async with connected(str(RAWCALL), str(tmp_path / "log")) as client:

        async def one(index: int) -> None:
            # Later calls sleep less, so the answers come back in the opposite order.
            result = await client.call_tool("sleep", {"seconds": (20 - index) * 0.02})
            results[index] = result.content[0].text  # type: ignore[union-attr]

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for index in range(20):
                    tg.start_soon(one, index)
        assert lean_calls(client) == 20
    assert results == {index: f"slept {(20 - index) * 0.02}" for index in range(20)}


@pytest.mark.parametrize("server", SERVERS)
async def test_lines_queued_behind_the_sdks_writes(server: str) -> None:
    """Where the line cannot go straight to the pipe, it travels through the stdin pump."""
    async with connected(*SERVERS[server]) as client:
        transport(client)._direct_writes = False
        texts: dict[int, str] = {}

        async def one(index: int) -> None:
            result = await client.call_tool("echo", {"text": f"call {index}"})
            texts[index] = result.content[0].text  # type: ignore[union-attr]

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for index in range(20):
                    tg.start_soon(one, index)
                    tg.start_soon(client.list_tools)  # SDK requests in between
        assert texts == {index: f"call {index}" for index in range(20)}
        assert lean_calls(client) == 20


async def test_notifications_during_a_call_reach_the_session(tmp_path: Path) -> None:
    logged: list[LoggingMessageNotificationParams] = []
    changed = anyio.Event()

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logged.append(params)

    async def on_message(message: object) -> None:
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    options: dict[str, Any] = {"logging_callback": on_log, "message_handler": on_message}
    async with connected(str(RAWCALL), str(tmp_path / "log"), **options) as client:
        result = await client.call_tool("chatty", {})
        assert result.content[0].text == "chatted"  # type: ignore[union-attr]
        with anyio.fail_after(5):
            await changed.wait()
        assert [p.data for p in logged] == ["working on it"]
        assert lean_calls(client) == 1


async def test_other_requests_and_options_go_to_the_sdk(tmp_path: Path) -> None:
    log = tmp_path / "log"

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        pass  # the raw server sends none; the option alone sends the call the SDK's way

    async with connected(str(RAWCALL), str(log)) as client:
        await client.list_tools()
        await client.send_ping()
        result = await client.call_tool("echo", {"text": "p"}, progress_callback=on_progress)
        assert result.content[0].text == "p"  # type: ignore[union-attr]
        assert lean_calls(client) == 0
        # An id the caller chooses may not be one a lean call has in flight.
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, "sleep", {"seconds": 0.5})
            request = await wait_received(log, call_of("sleep"))
            with pytest.raises(ValueError, match="already in flight"):
                await client.session._dispatcher.send_raw_request(
                    "ping", None, {"request_id": str(request["id"])}
                )
        assert lean_calls(client) == 1


async def test_in_process_servers_keep_the_sdk_dispatcher() -> None:
    from tests.hub.servers.misbehave import build

    async with HubClient(build(None), mode="auto") as client:
        assert not isinstance(client.session._dispatcher, FastToolCalls)
        result = await client.call_tool("echo", {"text": "in process"})
        assert result.content[0].text == "in process"  # type: ignore[union-attr]


# ---------------------------------------------------------------- giving up on a call


@both_paths
async def test_a_timeout_cancels_the_call_and_its_late_answer_is_dropped(
    lean: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log = tmp_path / "log"
    async with connected(str(RAWCALL), str(log), lean=lean) as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as caught:
            await client.call_tool("sleep", {"seconds": 0.6}, read_timeout_seconds=0.2)
        assert caught.value.error.code == REQUEST_TIMEOUT
        assert caught.value.error.message == "Request 'tools/call' timed out"
        request = await wait_received(log, call_of("sleep"))
        cancel = await wait_received(log, cancel_of(request["id"]))
        assert cancel["params"] == {"requestId": request["id"], "reason": "timed out after 0.2s"}
        await anyio.sleep(0.7)  # the late answer arrives
        result = await client.call_tool("echo", {"text": "next"})
        assert result.content[0].text == "next"  # type: ignore[union-attr]
        assert lean_calls(client) == (2 if lean else 0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@both_paths
async def test_cancelling_a_call_tells_the_server(lean: bool, tmp_path: Path) -> None:
    log = tmp_path / "log"
    async with connected(str(RAWCALL), str(log), lean=lean) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, "sleep", {"seconds": 30})
            request = await wait_received(log, call_of("sleep"))
            tg.cancel_scope.cancel()
        cancel = await wait_received(log, cancel_of(request["id"]))
        assert cancel["params"] == {"requestId": request["id"], "reason": "caller cancelled"}
        result = await client.call_tool("echo", {"text": "still usable"})
        assert result.content[0].text == "still usable"  # type: ignore[union-attr]


async def test_cancelling_a_call_cancels_the_sdk_servers_tool(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    async with connected(str(MISBEHAVE), "--marker", str(marker)) as client:
        with anyio.move_on_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, "sleep", {"seconds": 30})
                with anyio.fail_after(10):
                    while "started" not in (marker.read_text() if marker.exists() else ""):
                        await anyio.sleep(0.02)
                tg.cancel_scope.cancel()
        with anyio.fail_after(10):
            while "cancelled" not in marker.read_text():
                await anyio.sleep(0.02)
        assert lean_calls(client) == 1


# ---------------------------------------------------------------- a server that goes wrong


@both_paths
async def test_a_crash_mid_call_fails_it_at_once(lean: bool, tmp_path: Path) -> None:
    client = hub_client(str(RAWCALL), str(tmp_path / "log"), lean=lean)
    async with client:
        with anyio.fail_after(10), pytest.raises(MCPError) as caught:
            await client.call_tool("crash", {})
        assert (caught.value.error.code, caught.value.error.message) == (
            CONNECTION_CLOSED,
            "Connection closed",
        )
        assert lean_calls(client) == (1 if lean else 0)
    assert transport(client).exit_description() == "exited with code 5"
    assert not transport(client)._replies


async def test_the_hub_reports_a_crash_during_a_lean_call(tmp_path: Path) -> None:
    async with Hub.start(make_settings(tmp_path, server_toml("fragile"))) as hub:
        dispatcher = (await hub.client("fragile")).session._dispatcher
        assert isinstance(dispatcher, FastToolCalls)
        with anyio.fail_after(20):
            crashed = as_text((await hub.call("fragile__crash", "{}", "c"))["output"])
        assert dispatcher.lean_calls == 1
        assert crashed.startswith(ERROR_PREFIX)
        assert "'fragile' exited with code 7 during crash" in crashed
        assert "about to crash: simulated failure" in crashed
        back = as_text((await hub.call("fragile__echo", '{"text": "back"}', "c"))["output"])
        assert back == "back"


@both_paths
async def test_a_server_that_stops_reading_fails_the_next_call(lean: bool, tmp_path: Path) -> None:
    async with connected(str(RAWCALL), str(tmp_path / "log"), lean=lean) as client:
        await client.list_tools()  # now, while it still listens (call_tool's check lists once)
        result = await client.call_tool("deaf", {})
        assert result.content[0].text == "not listening any more"  # type: ignore[union-attr]
        with anyio.fail_after(10), pytest.raises(MCPError) as caught:
            await client.call_tool("echo", {"text": "anyone?"})
        assert caught.value.error.code == CONNECTION_CLOSED
        with anyio.fail_after(10):
            await transport(client).gone.wait()


@both_paths
async def test_closing_the_client_fails_a_pending_call(lean: bool, tmp_path: Path) -> None:
    log = tmp_path / "log"
    errors: list[MCPError] = []

    async def call(client: HubClient) -> None:
        try:
            await client.call_tool("sleep", {"seconds": 30})
        except MCPError as exc:
            errors.append(exc)

    client = hub_client(str(RAWCALL), str(log), lean=lean)
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg, client:
            tg.start_soon(call, client)
            await wait_received(log, call_of("sleep"))
    assert not transport(client)._replies
    assert [(e.error.code, e.error.message) for e in errors] == [
        (CONNECTION_CLOSED, "Connection closed")
    ]


@pytest.mark.parametrize("kind", ["result", "error", "jsonrpc"])
async def test_a_malformed_answer_fails_the_call_instead_of_hanging(
    kind: str, tmp_path: Path
) -> None:
    async with connected(str(RAWCALL), str(tmp_path / "log")) as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as caught:
            await client.call_tool("malformed", {"kind": kind})
        assert caught.value.error.code == INTERNAL_ERROR
        assert "the server sent a malformed response to tools/call" in caught.value.error.message
        result = await client.call_tool("echo", {"text": "fine"})
        assert result.content[0].text == "fine"  # type: ignore[union-attr]


@both_paths
async def test_a_second_answer_to_one_call_is_dropped(lean: bool, tmp_path: Path) -> None:
    async with connected(str(RAWCALL), str(tmp_path / "log"), lean=lean) as client:
        first = await client.call_tool("twice", {})
        assert first.content[0].text == "first"  # type: ignore[union-attr]
        result = await client.call_tool("echo", {"text": "next"})
        assert result.content[0].text == "next"  # type: ignore[union-attr]
