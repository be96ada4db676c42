"""The thread-free stdio transport, with real server processes on real pipes.

``tests/common/stdio_app.py`` is the server. Most tests drive it by hand over its pipes
(``tests.common.rawstdio``), reading every line it writes as JSON-RPC, so a stray byte on the
wire fails the test; the rest use the official ``mcp.Client``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio
import pytest

from servers.common.stdio import (
    MAX_MESSAGE_BYTES,
    LineSplitter,
    MessageTooLargeError,
    is_pipe_or_socket,
)
from tests.common.rawstdio import COMMAND, INITIALIZE, raw_server
from tests.common.stdio_app import FAREWELL_ENV, pattern
from tests.support import MODES, REPO, stdio_client, stop_process_group, text_of

pytestmark = pytest.mark.anyio

APP = "tests.common.stdio_app"
MB = 1024 * 1024


# --- the official client -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_official_client_over_the_thread_free_transport(mode: str) -> None:
    async with stdio_client(APP, mode=mode) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"echo", "big", "threads"} <= tools
        assert text_of(await client.call_tool("echo", {"text": "héllo ✓"})) == "héllo ✓"
        # The SDK's transport hops to worker threads for every read and write; ours runs none.
        assert text_of(await client.call_tool("threads", {})) == "1"


async def test_the_objects_built_at_start_up_are_frozen_out_of_the_collector() -> None:
    async with stdio_client(APP, mode="auto") as client:
        frozen = int(text_of(await client.call_tool("frozen_objects", {})))
    assert frozen > 10_000  # the imported modules and the server, at least


async def test_result_larger_than_the_pipe_buffer_arrives_intact() -> None:
    size = 6 * MB
    async with stdio_client(APP) as client:
        result = await client.call_tool("big", {"size": size})
        assert text_of(result) == pattern(size)
        assert text_of(await client.call_tool("echo", {"text": "after"})) == "after"


async def test_many_concurrent_calls() -> None:
    results: dict[int, str] = {}
    async with stdio_client(APP) as client:

        async def one(index: int) -> None:
            result = await client.call_tool("later", {"index": index, "delay": 0.2})
            results[index] = text_of(result)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for index in range(100):
                    tg.start_soon(one, index)
    assert results == {index: str(index) for index in range(100)}


# --- the wire, by hand ---------------------------------------------------------------------


async def test_stray_output_never_reaches_the_wire() -> None:
    async with raw_server(env={FAREWELL_ENV: "1"}) as server:
        await server.handshake()
        assert await server.call("stray_output") == "printed"
        assert await server.call("child_output") == "child ran"
        assert await server.call("echo", text="still in step") == "still in step"
        await server.close_stdin()
        assert await server.exit_code() == 0
        # After the session, stdout is the wire again: only what the app printed after it.
        assert await server.rest_of_stdout() == b"farewell\n"
    stderr = server.stderr_text()
    for stray in ("buffered print", "flushed print", "raw write", "child output"):
        assert f"stray {stray}" in stderr
    assert "Traceback" not in stderr


async def test_messages_split_across_writes_and_several_in_one_write() -> None:
    async with raw_server() as server:
        await server.handshake()

        def call(request_id: int, text: str) -> bytes:
            params = {"name": "echo", "arguments": {"text": text}}
            message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
            return json.dumps(message).encode()

        await server.send_bytes(call(101, "one") + b"\n" + call(102, "two") + b"\r\n")
        split = call(103, "three") + b"\n"
        await server.send_bytes(split[:20])
        await anyio.sleep(0.1)  # the server reads the first part on its own
        await server.send_bytes(split[20:] + b"not json\n" + call(104, "four")[:-1])
        await anyio.sleep(0.1)
        await server.send_bytes(b"}\n")
        texts: dict[int, str] = {}
        while len(texts) < 4:
            message = await server.receive()
            if message.get("id") in (101, 102, 103, 104):
                texts[message["id"]] = message["result"]["content"][0]["text"]
        assert texts == {101: "one", 102: "two", 103: "three", 104: "four"}


async def test_end_of_input_ends_the_server_cleanly() -> None:
    async with raw_server() as server:
        await server.handshake()
        assert await server.call("echo", text="hi") == "hi"
        slow = {"name": "later", "arguments": {"index": 1, "delay": 60}}
        await server.send_request("tools/call", slow)
        await server.close_stdin()  # with that call still running
        assert await server.exit_code() == 0
    assert "Traceback" not in server.stderr_text()


async def test_a_client_that_stops_reading_ends_the_server() -> None:
    async with raw_server() as server:
        await server.handshake()
        await server.send_request("tools/call", {"name": "big", "arguments": {"size": 4 * MB}})
        # The reply has started (and fills the pipe); go away mid-response, leaving stdin open.
        assert await anyio.to_thread.run_sync(os.read, server.stdout.fileno(), 65536)
        server.stdout.close()
        assert await server.exit_code() == 0
    assert "Traceback" not in server.stderr_text()


async def test_an_endless_line_is_refused() -> None:
    chunk = b"x" * MB
    async with raw_server() as server:
        await server.handshake()
        with suppress(BrokenPipeError):  # once the server has given up
            for _ in range(MAX_MESSAGE_BYTES // MB + 2):
                await server.send_bytes(chunk)
        assert await server.exit_code() == 1
    stderr = server.stderr_text()
    assert "without ending the line" in stderr
    assert "Traceback" not in stderr


# --- when stdio is not a pipe --------------------------------------------------------------


def test_only_pipes_and_sockets_are_polled(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    left, right = socket.socketpair()
    regular = tmp_path / "file"
    regular.write_text("{}\n")
    try:
        assert is_pipe_or_socket(read_end) and is_pipe_or_socket(write_end)
        assert is_pipe_or_socket(left.fileno())
        with regular.open("rb") as file, Path(os.devnull).open("rb") as null:
            assert not is_pipe_or_socket(file.fileno())
            assert not is_pipe_or_socket(null.fileno())
        primary, secondary = os.openpty()
        assert not is_pipe_or_socket(secondary)
        os.close(primary)
        os.close(secondary)
        assert not is_pipe_or_socket(write_end + 1000)  # not open at all
    finally:
        os.close(read_end)
        os.close(write_end)
        left.close()
        right.close()


async def test_stdout_to_a_file_falls_back_to_the_sdk_transport(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"

    async def replies(count: int) -> list[dict[str, Any]]:
        with anyio.fail_after(20):
            while len(lines := out.read_bytes().splitlines()) < count:
                await anyio.sleep(0.05)
        return [json.loads(line) for line in lines]

    with out.open("wb") as sink:
        process = await anyio.open_process(
            COMMAND, cwd=REPO, stdout=sink, stderr=subprocess.DEVNULL, start_new_session=True
        )
    async with process:
        assert process.stdin is not None
        lines = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
        ]
        await process.stdin.send(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
        await replies(1)
        call = {"name": "threads", "arguments": {}}
        request = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}
        await process.stdin.send(json.dumps(request).encode() + b"\n")
        reply = (await replies(2))[1]
        await process.stdin.aclose()
        with anyio.fail_after(20):
            assert await process.wait() == 0
    # The SDK's transport reads and writes through worker threads.
    assert int(reply["result"]["content"][0]["text"]) > 1


async def test_stderr_on_the_wire_falls_back_to_the_sdk_transport() -> None:
    # With 2>&1, O_NONBLOCK on the wire would reach stderr's writers too.
    async with raw_server(stderr=subprocess.STDOUT) as server:
        await server.handshake()
        threads = int(await server.call("threads"))
        await server.close_stdin()
        assert await server.exit_code() == 0
    assert threads > 1


async def test_a_socket_as_stdin_and_stdout() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        process = subprocess.Popen(
            COMMAND, cwd=REPO, stdin=theirs.fileno(), stdout=theirs.fileno(), start_new_session=True
        )
        theirs.close()
        reader = ours.makefile("rb")

        def exchange(message: dict[str, Any]) -> dict[str, Any]:
            ours.sendall(json.dumps(message).encode() + b"\n")
            if "id" not in message:
                return {}
            reply: dict[str, Any] = json.loads(reader.readline())
            return reply

        try:
            with anyio.fail_after(20):
                init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}
                assert "result" in await anyio.to_thread.run_sync(exchange, init)
                notify = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                await anyio.to_thread.run_sync(exchange, notify)
                call = {"name": "threads", "arguments": {}}
                request = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}
                reply = await anyio.to_thread.run_sync(exchange, request)
                assert reply["result"]["content"][0]["text"] == "1"
                ours.shutdown(socket.SHUT_WR)  # end of input
                while process.poll() is None:
                    await anyio.sleep(0.02)
            assert process.returncode == 0
        finally:
            reader.close()
            stop_process_group(process, timeout=1)


def test_line_splitter_frames_lines_however_the_bytes_arrive() -> None:
    stream = b'{"a":1}\n{"b":2}\r\n\n{"c":3}\npartial'
    for cut in range(len(stream) + 1):
        lines = LineSplitter(limit=100)
        got = [*lines.feed(stream[:cut]), *lines.feed(stream[cut:])]
        assert got == [b'{"a":1}', b'{"b":2}\r', b"", b'{"c":3}'], cut
        assert lines.rest() == b"partial"


def test_line_splitter_refuses_a_long_line_after_the_lines_before_it() -> None:
    lines = LineSplitter(limit=4)
    got: list[bytes] = []
    with pytest.raises(MessageTooLargeError):
        for line in lines.feed(b"ok\nfine\ntoo long\nnever\n"):
            got.append(line)
    assert got == [b"ok", b"fine"]

    growing = LineSplitter(limit=4)
    assert list(growing.feed(b"abcd")) == []
    with pytest.raises(MessageTooLargeError):
        list(growing.feed(b"e"))  # still no newline, and already over the limit
