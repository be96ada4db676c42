"""The ToolCallLane: modern ``tools/call`` requests served beside the SDK's dispatcher.

Each test drives real server processes (``tests/common/stdio_app.py``) over real pipes. The
lane must be invisible on the wire: the same requests sent to a server with the lane and to one
without it (``STDIO_APP_SDK_ONLY``) must get the same lines back, notifications included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.common.rawstdio import RawServer, raw_server
from tests.common.stdio_app import SDK_ONLY_ENV
from tests.support import stdio_client, text_of

pytestmark = pytest.mark.anyio

VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
ENVELOPE = {
    VERSION_KEY: "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "lane-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"


def call(name: str, arguments: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments, "_meta": {**ENVELOPE, **meta}}


async def exchange(server: RawServer, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Send one request; every line the server writes until its answer, the answer last."""
    await server.send({"jsonrpc": "2.0", **message})
    lines = []
    with anyio.fail_after(20):
        while True:
            lines.append(line := await server.receive())
            if line.get("id") == message["id"] and "method" not in line:
                return lines


async def open_modern(server: RawServer) -> None:
    """The client's first request decides the era: ``server/discover`` with the envelope."""
    discover = {"id": 0, "method": "server/discover", "params": {"_meta": ENVELOPE}}
    reply = await exchange(server, discover)
    assert "result" in reply[-1], reply


async def lane_calls(server: RawServer, request_id: int) -> int:
    reply = await exchange(
        server, {"id": request_id, "method": "tools/call", "params": call("lane_calls", {})}
    )
    return int(reply[-1]["result"]["content"][0]["text"])


async def direct_calls(server: RawServer, request_id: int) -> int:
    reply = await exchange(
        server, {"id": request_id, "method": "tools/call", "params": call("direct_calls", {})}
    )
    return int(reply[-1]["result"]["content"][0]["text"])


CONVERSATION: list[dict[str, Any]] = [
    {"id": 1, "method": "tools/call", "params": call("echo", {"text": 'héllo ✓ \u2028 "q"'})},
    {"id": 2, "method": "tools/call", "params": call("fails", {"message": "nope"})},
    {"id": 3, "method": "tools/call", "params": call("no_such_tool", {})},
    {"id": 4, "method": "tools/call", "params": call("echo", {})},
    {"id": 5, "method": "tools/call", "params": call("echo", {"text": 5})},
    {
        "id": 6,
        "method": "tools/call",
        "params": call("steps", {"count": 3}, progressToken="p-6", **{LOG_LEVEL_KEY: "info"}),
    },
    {"id": "seven", "method": "tools/call", "params": call("echo", {"text": "string id"})},
    {
        "id": 8,
        "method": "tools/call",
        "params": call("echo", {"text": "x"}, **{VERSION_KEY: "2099-01-01"}),
    },
    {
        "id": 9,
        "method": "tools/call",
        "params": {
            "name": "echo",
            "arguments": {"text": "half"},
            "_meta": {VERSION_KEY: "2026-07-28"},
        },
    },
    {"id": 10, "method": "tools/list", "params": {"_meta": ENVELOPE}},
    {"id": 11, "method": "tools/call", "params": call("big", {"size": 200_000})},
    *[
        {"id": 20 + index, "method": "tools/call", "params": call("report", arguments)}
        for index, arguments in enumerate(
            [
                {"label": 'naïve ✓ "q" \u2028', "count": 5},
                {"label": "none", "count": 0},
                {"label": "many", "count": 3000},
                {"label": "x", "mode": "tool_error"},
                {"label": "x", "mode": "protocol_error"},
                {"label": "x", "mode": "error_result"},
                {"label": "x", "count": "three"},
                {"label": 7},
                {},
            ]
        )
    ],
    {"id": 40, "method": "tools/call", "params": {"name": "report", "_meta": ENVELOPE}},
    {
        "id": 41,
        "method": "tools/call",
        "params": {"name": "report", "arguments": None, "_meta": ENVELOPE},
    },
    {
        "id": 42,
        "method": "tools/call",
        "params": {**call("report", {"label": "y"}), "requestState": "not-sealed"},
    },
]
"""Results, tool errors, JSON-RPC errors (unknown tool, bad arguments, unsupported version, a
half-built envelope), progress and log notifications, a string id, a large result; and a tool
with structured results (the calls the lane serves without ``serve_one``) succeeding, failing
in each way it can, and called with missing, null and extra params."""
DIRECT = [20, 21, 22, 23, 24, 25, 26, 27, 28, 40, 41]
"""The ids above that the lane serves without the SDK's request kernel."""


async def test_the_lane_answers_exactly_as_the_sdk_does() -> None:
    transcripts: dict[str, list[list[dict[str, Any]]]] = {}
    for variant, env in (("lane", {}), ("sdk", {SDK_ONLY_ENV: "1"})):
        async with raw_server(env=env) as server:
            await open_modern(server)
            transcripts[variant] = [await exchange(server, message) for message in CONVERSATION]
            served = await lane_calls(server, 99)
            direct = await direct_calls(server, 100)
            await server.close_stdin()
            assert await server.exit_code() == 0
        assert "Traceback" not in server.stderr_text()
        if variant == "lane":  # every tools/call above, and the lane_calls call itself
            assert served == sum(m["method"] == "tools/call" for m in CONVERSATION) + 1
            assert direct == len(DIRECT)
        else:
            assert (served, direct) == (0, 0)
    assert transcripts["lane"] == transcripts["sdk"]
    answers = {
        m["id"]: lines[-1] for m, lines in zip(CONVERSATION, transcripts["lane"], strict=True)
    }
    assert answers[20]["result"]["structuredContent"]["entries"][1] == {
        "key": 'naïve ✓ "q" \u2028-1',
        "value": None,
    }
    assert answers[23]["result"]["isError"] is True
    assert answers[24]["error"]["code"] == -32042
    assert answers[42]["error"]["code"] == -32602  # a requestState the server never sealed
    steps = transcripts["lane"][5]
    assert [m["method"] for m in steps[:-1]].count("notifications/progress") == 3
    assert any(m.get("method") == "notifications/message" for m in steps)


async def test_a_structured_tool_that_breaks_answers_as_under_the_sdk() -> None:
    """A crash and content outside the output schema: the same generic error result on both
    paths (the details stay in the server's log)."""
    crashes = [
        {"id": 1, "method": "tools/call", "params": call("report", {"label": "x", "mode": mode})}
        for mode in ("crash", "off_schema")
    ]
    transcripts = {}
    for variant, env in (("lane", {}), ("sdk", {SDK_ONLY_ENV: "1"})):
        async with raw_server(env=env) as server:
            await open_modern(server)
            transcripts[variant] = [await exchange(server, message) for message in crashes]
            direct = await direct_calls(server, 2)
            await server.close_stdin()
            assert await server.exit_code() == 0
        log = server.stderr_text()
        assert "an internal detail the client must not see" in log
        assert "report returned content outside its outputSchema" in log
        assert direct == (2 if variant == "lane" else 0)
    assert transcripts["lane"] == transcripts["sdk"]
    for lines in transcripts["lane"]:
        assert lines[-1]["result"]["isError"] is True
        assert lines[-1]["result"]["content"] == [
            {"type": "text", "text": "Error executing tool report"}
        ]


@pytest.mark.parametrize("tool", ["wait_for_cancel", "wait_for_cancel_structured"])
async def test_a_cancelled_call_stops_and_is_never_answered(tmp_path: Path, tool: str) -> None:
    marker = tmp_path / "cancelled"
    async with raw_server() as server:
        await open_modern(server)
        params = call(tool, {"path": str(marker)})
        await server.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
        await anyio.sleep(0.3)  # the tool is running
        cancel = {"requestId": 1, "reason": "user pressed escape"}
        await server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel})
        with anyio.fail_after(10):
            while not marker.exists():
                await anyio.sleep(0.02)
        assert marker.read_text() == "cancelled"
        echo = {"id": 2, "method": "tools/call", "params": call("echo", {"text": "next"})}
        lines = await exchange(server, echo)
        assert lines[-1]["result"]["content"][0]["text"] == "next"
        assert all(line.get("id") != 1 for line in lines)
        assert await lane_calls(server, 3) == 3
        assert await direct_calls(server, 4) == (1 if tool.endswith("structured") else 0)
        await server.close_stdin()
        assert await server.exit_code() == 0


@pytest.mark.parametrize("tool", ["wait_for_cancel", "wait_for_cancel_structured"])
@pytest.mark.parametrize("env", [{}, {SDK_ONLY_ENV: "1"}], ids=["lane", "sdk"])
async def test_end_of_input_answers_the_calls_still_running(
    tmp_path: Path, env: dict[str, str], tool: str
) -> None:
    marker = tmp_path / "cancelled"
    async with raw_server(env=env) as server:
        await open_modern(server)
        params = call(tool, {"path": str(marker)})
        await server.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
        await anyio.sleep(0.3)
        await server.close_stdin()
        answer = await server.receive()
        assert await server.exit_code() == 0
    assert answer == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32000, "message": "Connection closed"},
    }
    assert marker.read_text() == "cancelled"
    assert "Traceback" not in server.stderr_text()


async def test_a_legacy_connection_never_takes_the_lane() -> None:
    async with raw_server() as server:
        await server.handshake()
        enveloped = {"id": 5, "method": "tools/call", "params": call("echo", {"text": "x"})}
        refused = (await exchange(server, enveloped))[-1]
        assert refused["error"]["code"] == -32600  # INVALID_REQUEST: wrong era for this connection
        assert await server.call("echo", text="plain") == "plain"
        assert await server.call("lane_calls") == "0"


@pytest.mark.parametrize(("mode", "lane"), [("auto", True), ("legacy", False)])
async def test_the_official_client(mode: str, lane: bool) -> None:
    async with stdio_client("tests.common.stdio_app", mode=mode) as client:
        async with anyio.create_task_group() as tg:
            for index in range(20):
                tg.start_soon(client.call_tool, "later", {"index": index, "delay": 0.05})
        assert text_of(await client.call_tool("echo", {"text": "ok"})) == "ok"
        served = int(text_of(await client.call_tool("lane_calls", {})))
        assert (served > 0) is lane
