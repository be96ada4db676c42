"""Each fault surfaces in the official SDK as the error a real outage would cause."""

from __future__ import annotations

import anyio
import openai
import pytest
import websockets

from agent.mockmodel import Fault, MockModelServer, Record
from tests.mockmodel.conftest import sdk
from tests.mockmodel.test_websocket import collect

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]


async def wait_for_record(srv: MockModelServer, count: int) -> list[Record]:
    """Records are appended when the server finishes a request, which for a client that
    gave up can be a moment after the client noticed."""
    with anyio.fail_after(10):
        while len(srv.records) < count:
            await anyio.sleep(0.01)
    return srv.records


async def test_rate_limit_is_a_429_with_retry_after(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="rate_limit", retry_after=1.5))
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk(echo_server).responses.create(model="m", input="hi")
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.response.headers["retry-after-ms"] == "1500"
    record = echo_server.records[0]
    assert (record.fault, record.http_status, record.status) == ("rate_limit", 429, "error")


async def test_the_sdk_retries_through_transient_faults(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="rate_limit", retry_after=0.01, times=2))
    client = sdk(echo_server, max_retries=2)
    response = await client.responses.create(model="m", input="hi")
    assert response.output_text == "Done."
    assert [r.http_status for r in echo_server.records] == [429, 429, 200]


async def test_server_error_is_an_internal_server_error(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="server_error"))
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk(echo_server).responses.create(model="m", input="hi", stream=True)
    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"


async def test_a_dropped_stream_is_a_connection_error(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="drop", after_events=4))
    received = []
    stream = await sdk(echo_server).responses.create(model="m", input="hi", stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for event in stream:
            received.append(event.type)
    assert received == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    record = echo_server.records[0]
    assert (record.status, record.events) == ("dropped", 4)


async def test_a_dropped_json_response_is_a_connection_error(
    echo_server: MockModelServer,
) -> None:
    echo_server.inject(Fault(kind="drop", transport="http"))
    with pytest.raises(openai.APIConnectionError):
        await sdk(echo_server).responses.create(model="m", input="hi")


async def test_a_slow_stream_times_out(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="slow", delay_ms=5_000))
    client = sdk(echo_server, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        stream = await client.responses.create(model="m", input="hi", stream=True)
        async for _ in stream:
            pass
    (record,) = await wait_for_record(echo_server, 1)
    assert record.fault == "slow" and record.status == "disconnected"


async def test_websocket_closed_with_1011(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="ws_close", after_events=2))
    received = []
    async with sdk(echo_server).responses.connect() as conn:
        await conn.response.create(model="m", input="hi", store=False)
        with pytest.raises(websockets.ConnectionClosedError) as caught:
            async for event in conn:
                received.append(event.type)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1011
    assert received == ["response.created", "response.in_progress"]


async def test_websocket_dropped_without_close_frame(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="drop", transport="ws", after_events=3))
    async with sdk(echo_server).responses.connect() as conn:
        await conn.response.create(model="m", input="hi", store=False)
        with pytest.raises(websockets.ConnectionClosedError) as caught:
            async for _ in conn:
                pass
    assert caught.value.rcvd is None  # abnormal closure (1006)


async def test_websocket_connection_limit_fault(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="connection_limit"))
    async with sdk(echo_server).responses.connect() as conn:
        await conn.response.create(model="m", input="hi", store=False)
        error = await conn.recv()
        with pytest.raises(websockets.ConnectionClosedOK):
            await conn.recv()
    assert error.type == "error" and error.status == 400
    assert error.error.code == "websocket_connection_limit_reached"


async def test_websocket_rate_limit_and_server_error_events(
    echo_server: MockModelServer,
) -> None:
    echo_server.inject(
        Fault(kind="rate_limit", transport="ws", retry_after=3),
        Fault(kind="server_error", transport="ws"),
    )
    async with sdk(echo_server).responses.connect() as conn:
        await conn.response.create(model="m", input="hi", store=False)
        limited = await conn.recv()
        await conn.response.create(model="m", input="hi", store=False)
        failed = await conn.recv()
        await conn.response.create(model="m", input="hi", store=False)
        fine = await collect(conn)  # the connection survives both
    assert limited.type == "error" and limited.status == 429
    assert limited.error.code == "rate_limit_exceeded"
    assert limited.error.headers == {"retry-after": "3", "retry-after-ms": "3000"}
    assert failed.type == "error" and failed.status == 500
    assert failed.error.type == "server_error"
    assert fine[-1].type == "response.completed"


async def test_faults_wait_for_their_transport_and_request(
    echo_server: MockModelServer,
) -> None:
    echo_server.inject(
        Fault(kind="ws_close"),  # never fires over HTTP
        Fault(kind="server_error", at_request=3),
    )
    client = sdk(echo_server)
    await client.responses.create(model="m", input="hi")
    await client.responses.create(model="m", input="hi")
    with pytest.raises(openai.InternalServerError):
        await client.responses.create(model="m", input="hi")
    assert [f.kind for f in echo_server.model.faults.pending] == ["ws_close"]


async def test_compact_can_be_rate_limited(echo_server: MockModelServer) -> None:
    echo_server.inject(Fault(kind="rate_limit"))
    with pytest.raises(openai.RateLimitError):
        await sdk(echo_server).responses.compact(model="m", input="hi")
    assert echo_server.records[0].endpoint == "compact"
