"""The WebSocket mode, driven by the official SDK's ``responses.connect()``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from openai.resources.responses.responses import AsyncResponsesConnection
from websockets.asyncio.client import connect as ws_connect

from agent.mockmodel import MockModelServer
from schemas.responses import TERMINAL_EVENT_TYPES, ws_event_adapter
from tests.mockmodel.conftest import sdk
from tests.mockmodel.test_http import EXPECTED_FUNCTION_CALL_STREAM, SCRIPT, TOOLS

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]


async def collect(conn: AsyncResponsesConnection) -> list[Any]:
    """Events of one response, up to its terminal event."""
    events = []
    while True:
        event = await conn.recv()
        events.append(event)
        if event.type in TERMINAL_EVENT_TYPES:
            return events


async def test_incremental_continuation_on_one_connection() -> None:
    async with MockModelServer(SCRIPT) as srv:
        async with sdk(srv).responses.connect() as conn:
            await conn.response.create(
                model="gpt-test", input="What is this project?", tools=TOOLS, store=False
            )
            first = await collect(conn)
            response = first[-1].response
            call = response.output[1]
            await conn.response.create(
                model="gpt-test",
                previous_response_id=response.id,
                input=[{"type": "function_call_output", "call_id": call.call_id, "output": "#"}],
                tools=TOOLS,
                store=False,
            )
            second = await collect(conn)
        records = srv.records

    assert [e.type for e in first] == EXPECTED_FUNCTION_CALL_STREAM  # same as over HTTP
    assert [e.sequence_number for e in first] == list(range(len(first)))
    for event in first + second:
        ws_event_adapter().validate_python(event.to_dict())
    assert second[-1].type == "response.completed"
    assert second[-1].response.output_text == "The project is called toolwire."
    assert second[-1].response.previous_response_id == response.id
    one, two = records
    assert (one.transport, one.connection) == ("ws", two.connection) == ("ws", 1)
    assert two.item_count == 1 and two.context_items == 4  # user + 2 outputs + tool output
    assert two.previous_response_id == response.id and two.turn == "turns[1]"
    assert two.bytes_received < one.bytes_received + 200  # only the new item went up


async def test_warm_up_with_generate_false_then_continue() -> None:
    async with MockModelServer(SCRIPT) as srv:
        async with sdk(srv).responses.connect() as conn:
            await conn.response.create(
                model="gpt-test",
                instructions="Be brief.",
                tools=TOOLS,
                store=False,
                generate=False,
            )
            warm = await collect(conn)
            warm_id = warm[-1].response.id
            await conn.response.create(
                model="gpt-test",
                previous_response_id=warm_id,
                input="Go.",
                tools=TOOLS,
                store=False,
            )
            real = await collect(conn)
        records = srv.records
    assert [e.type for e in warm] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert warm[-1].response.output == [] and warm[-1].response.usage.output_tokens == 0
    assert records[0].generate is False and records[0].turn is None
    assert [item.type for item in real[-1].response.output] == ["reasoning", "function_call"]
    assert records[1].turn == "turns[0]"  # the warm-up produced no model turn


async def test_previous_response_not_found_after_reconnect() -> None:
    async with MockModelServer(SCRIPT) as srv:
        client = sdk(srv)
        history: list[Any] = [{"role": "user", "content": "What is this project?"}]
        async with client.responses.connect() as conn:
            await conn.response.create(model="gpt-test", input=history, tools=TOOLS, store=False)
            response = (await collect(conn))[-1].response
        call = response.output[1]
        output: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "#"}
        async with client.responses.connect() as conn:
            await conn.response.create(
                model="gpt-test",
                previous_response_id=response.id,
                input=[output],
                tools=TOOLS,
                store=False,
            )
            error = await conn.recv()
            # The recovery: resend the full history without previous_response_id.
            full: list[Any] = [*history, *(item.to_dict() for item in response.output), output]
            await conn.response.create(model="gpt-test", input=full, tools=TOOLS, store=False)
            recovered = await collect(conn)
    assert error.type == "error" and error.status == 400
    assert error.error.code == "previous_response_not_found"
    assert error.error.param == "previous_response_id"
    assert error.error.type == "invalid_request_error"
    assert recovered[-1].response.output_text == "The project is called toolwire."


async def test_stored_responses_survive_a_reconnect() -> None:
    async with MockModelServer(["one", "two"]) as srv:
        client = sdk(srv)
        async with client.responses.connect() as conn:
            await conn.response.create(model="m", input="hi", store=True)
            first = (await collect(conn))[-1].response
        async with client.responses.connect() as conn:
            await conn.response.create(model="m", previous_response_id=first.id, input="more")
            second = await collect(conn)
    assert second[-1].response.output_text == "two"


async def test_a_failed_continuation_evicts_its_parent() -> None:
    async with MockModelServer(["one", "two"]) as srv, sdk(srv).responses.connect() as conn:
        await conn.response.create(model="m", input="hi", store=False)
        first = (await collect(conn))[-1].response
        orphan: Any = {"type": "function_call_output", "call_id": "call_none", "output": "x"}
        await conn.response.create(
            model="m", previous_response_id=first.id, input=[orphan], store=False
        )
        rejected = await conn.recv()
        await conn.response.create(
            model="m", previous_response_id=first.id, input="retry", store=False
        )
        evicted = await conn.recv()
    assert rejected.type == "error" and rejected.status == 400
    assert "No tool call found" in rejected.error.message
    assert evicted.type == "error" and evicted.error.code == "previous_response_not_found"


async def test_stream_id_is_echoed_on_every_event(echo_server: MockModelServer) -> None:
    async with sdk(echo_server).responses.connect() as conn:
        await conn.response.create(model="m", input="hi", store=False, stream_id="lane-1")
        events = await collect(conn)
    assert {getattr(e, "stream_id", None) for e in events} == {"lane-1"}


async def test_connection_age_limit() -> None:
    async with MockModelServer(ws_max_age=0.0) as srv, sdk(srv).responses.connect() as conn:
        await conn.response.create(model="m", input="hi", store=False)
        error = await conn.recv()
        with pytest.raises(websockets.ConnectionClosedOK):
            await conn.recv()
    assert error.type == "error" and error.error.code == "websocket_connection_limit_reached"


async def test_upgrade_refused_with_426_when_websocket_mode_is_off() -> None:
    async with MockModelServer(websocket=False) as srv:
        with pytest.raises(websockets.InvalidStatus) as caught:
            async with sdk(srv).responses.connect():
                pass
        # HTTP still works: a client falls back to it.
        response = await sdk(srv).responses.create(model="m", input="hi")
    assert caught.value.response.status_code == 426
    assert response.output_text == "Done."


async def test_permessage_deflate_and_raw_frames(echo_server: MockModelServer) -> None:
    """A plain WebSocket client (not the SDK): compression is negotiated, frames are one
    JSON event each, bad frames get an error event and the connection stays usable."""
    async with ws_connect(echo_server.ws_url, compression="deflate") as ws:
        assert [type(e).__name__ for e in ws.protocol.extensions] == ["PerMessageDeflate"]
        await ws.send("not json")
        bad_json = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "response.steer", "input": []}))
        bad_type = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "response.create", "model": "m", "input": "hi"}))
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != "response.completed":
            frames.append(json.loads(await ws.recv()))
    assert bad_json["type"] == "error" and bad_json["status"] == 400
    assert bad_type["error"]["param"] == "type"
    assert frames[0]["type"] == "response.created" and frames[-1]["response"]["output"]
    assert "sequence_number" not in bad_json  # protocol errors precede any stream
