"""The two transports against the scripted model server on loopback: event streams,
incremental WebSocket turns, every fault recovered, and the HTTP fallback."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.mockmodel import Fault, MockModelServer
from agent.model import (
    History,
    HttpTransport,
    RequestTemplate,
    StreamInterruptedError,
    Transport,
    WebSocketTransport,
)
from tests.agent.helpers import FAST_RETRY, transport_for

pytestmark = pytest.mark.anyio

TOOLS = [{"type": "function", "name": "echo", "parameters": {"type": "object"}, "strict": False}]
SCRIPT = {
    "turns": [
        [
            {"type": "reasoning", "summary": "plan"},
            {"type": "function_call", "name": "echo", "arguments": {"text": "a"}},
        ],
        ["first answer"],
        [{"type": "function_call", "name": "echo", "arguments": {"text": "b"}}],
        ["second answer"],
    ]
}
TEMPLATE = RequestTemplate(
    model="m", instructions="test", tools=TOOLS, include=("reasoning.encrypted_content",)
)


@pytest.fixture
async def server() -> AsyncIterator[MockModelServer]:
    async with MockModelServer(SCRIPT) as srv:
        yield srv


async def turn(transport: Transport, history: History) -> list[dict[str, Any]]:
    """One request: commit output items, answer function calls with "ok"."""
    events: list[dict[str, Any]] = []
    calls = []
    async for event in transport.stream(TEMPLATE, history):
        events.append(dict(event))
        if event["type"] == "response.output_item.done":
            item = event["item"]
            history.append(item)
            if item["type"] == "function_call":
                calls.append(item)
    for call in calls:
        history.append({"type": "function_call_output", "call_id": call["call_id"], "output": "ok"})
    return events


def fresh_history() -> History:
    return History([{"type": "message", "role": "user", "content": "go"}])


@pytest.mark.parametrize("choice", ["http", "websocket"])
async def test_stream_yields_the_api_events_in_order(server: MockModelServer, choice: str) -> None:
    transport = transport_for(server.url, choice)  # type: ignore[arg-type]
    try:
        events = await turn(transport, fresh_history())
    finally:
        await transport.aclose()
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in kinds
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert transport.name == choice


async def test_websocket_sends_only_new_items_after_the_first_turn(
    server: MockModelServer,
) -> None:
    transport = transport_for(server.url, "websocket")
    history = fresh_history()
    try:
        for _ in range(4):
            await turn(transport, history)
        assert isinstance(transport, WebSocketTransport)
        ws = transport.connection
        assert ws is not None
        assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
    finally:
        await transport.aclose()
    records = server.records
    assert [r.transport for r in records] == ["ws"] * 4
    assert records[0].previous_response_id is None
    assert records[0].item_count == 1
    for before, after in itertools.pairwise(records):
        assert after.previous_response_id == before.response_id
    # turn 2 follows a function call: only its output is new; turn 3 follows a message only
    assert [r.item_count for r in records[1:]] == [1, 0, 1]
    assert transport.stats.incremental_requests == 3


async def test_http_is_stateless_and_prefix_stable(server: MockModelServer) -> None:
    transport = transport_for(server.url, "http")
    history = fresh_history()
    try:
        for _ in range(4):
            await turn(transport, history)
    finally:
        await transport.aclose()
    bodies = [r.body for r in server.records]
    assert all(b is not None for b in bodies)
    for body in bodies:
        assert body is not None
        assert body["store"] is False and body["stream"] is True
        assert body["include"] == ["reasoning.encrypted_content"]
        assert "previous_response_id" not in body
    for before, after in itertools.pairwise(bodies):
        assert before is not None and after is not None
        assert after["input"][: len(before["input"])] == before["input"]


@pytest.mark.parametrize("choice", ["http", "websocket"])
@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="rate_limit", retry_after=0.05),
        Fault(kind="server_error"),
        Fault(kind="drop", after_events=2),
        Fault(kind="slow", delay_ms=400),
    ],
    ids=["429", "500", "drop", "stall"],
)
async def test_faults_before_any_output_are_retried(
    server: MockModelServer, choice: str, fault: Fault
) -> None:
    transport = transport_for(server.url, choice, idle_timeout=0.15)  # type: ignore[arg-type]
    history = fresh_history()
    try:
        await turn(transport, history)  # a healthy first turn (WebSocket: now incremental)
        server.inject(fault)
        events = await turn(transport, history)
    finally:
        await transport.aclose()
    retries = [e for e in events if e["type"] == "toolwire.retry"]
    assert len(retries) == 1
    if fault.kind == "rate_limit":
        assert retries[0]["delay"] >= 0.05  # the server's retry-after, honoured
    assert events[-1]["type"] == "response.completed"
    assert transport.stats.retries == 1
    last = server.records[-1]
    assert last.status == "completed"
    if choice == "websocket":
        # the failed request voided the server's copy: the retry carries everything
        assert last.previous_response_id is None and last.item_count == len(history) - 1


@pytest.mark.parametrize(
    "fault",
    [Fault(kind="ws_close", after_events=2, close_code=1011), Fault(kind="connection_limit")],
    ids=["1011", "60-minute-limit"],
)
async def test_websocket_reconnects_and_resends_everything(
    server: MockModelServer, fault: Fault
) -> None:
    transport = transport_for(server.url, "websocket")
    history = fresh_history()
    try:
        await turn(transport, history)
        server.inject(fault)
        events = await turn(transport, history)
        await turn(transport, history)
    finally:
        await transport.aclose()
    assert events[-1]["type"] == "response.completed"
    assert transport.stats.reconnects == 1
    records = server.records
    assert {r.connection for r in records} == {1, 2}
    retried = next(r for r in records if r.connection == 2)
    assert retried.previous_response_id is None  # a new connection knows nothing
    assert records[-1].previous_response_id == retried.response_id  # incremental again


async def test_previous_response_not_found_resends_the_full_input(
    server: MockModelServer,
) -> None:
    transport = transport_for(server.url, "websocket")
    history = fresh_history()
    try:
        await turn(transport, history)
        assert isinstance(transport, WebSocketTransport)
        assert transport._chain is not None
        transport._chain.response_id = "resp_forgotten"  # as after a server-side eviction
        events = await turn(transport, history)
    finally:
        await transport.aclose()
    assert events[-1]["type"] == "response.completed"
    records = server.records
    assert records[1].error_code == "previous_response_not_found"
    assert records[2].previous_response_id is None
    assert records[2].connection == records[1].connection  # same connection, no reconnect
    assert transport.stats.reconnects == 0


@pytest.mark.parametrize("choice", ["http", "websocket"])
async def test_a_break_after_a_completed_item_is_not_retried(
    server: MockModelServer, choice: str
) -> None:
    transport = transport_for(server.url, choice)  # type: ignore[arg-type]
    try:
        events = await turn(transport, fresh_history())
        first_done = next(
            i for i, e in enumerate(events) if e["type"] == "response.output_item.done"
        )
        server.clear_records()
        server.inject(Fault(kind="drop", after_events=first_done + 1))
        history = fresh_history()
        with pytest.raises(StreamInterruptedError):
            await turn(transport, history)
        assert [i["type"] for i in history.items[1:]] == ["reasoning"]  # what completed
        assert len(server.records) == 1  # no retry
    finally:
        await transport.aclose()


async def test_upgrade_refusal_falls_back_to_http_for_good() -> None:
    async with MockModelServer(SCRIPT, websocket=False) as server:
        transport = transport_for(server.url, "websocket")
        history = fresh_history()
        try:
            for _ in range(3):
                await turn(transport, history)
        finally:
            await transport.aclose()
        assert transport.name == "http"
        assert transport.stats.fallbacks == 1
        records = server.records
        assert [r.transport for r in records] == ["http", "http", "http"]
        assert all(r.status == "completed" for r in records)


async def test_permanent_errors_are_not_retried(server: MockModelServer) -> None:
    from agent.model import ModelError

    transport = HttpTransport(server.url, retry=FAST_RETRY)
    bad = RequestTemplate(model="m", tools=[{"type": "function", "name": "bad name!"}])
    try:
        with pytest.raises(ModelError) as caught:
            async for _ in transport.stream(bad, fresh_history()):
                pass
    finally:
        await transport.aclose()
    assert caught.value.status == 400 and not caught.value.retryable
    assert len(server.records) == 1


@pytest.mark.parametrize("choice", ["http", "websocket"])
async def test_compact_endpoint(server: MockModelServer, choice: str) -> None:
    transport = transport_for(server.url, choice)  # type: ignore[arg-type]
    history = fresh_history()
    try:
        await turn(transport, history)
        answer = await transport.compact(TEMPLATE, history)
    finally:
        await transport.aclose()
    kinds = [item.get("type") for item in answer["output"]]
    assert kinds[-1] == "compaction"
    assert server.records[-1].endpoint == "compact"


async def test_connections_are_renewed_before_the_service_limit(server: MockModelServer) -> None:
    from agent.model import HttpTransport as Http

    http = Http(server.url, retry=FAST_RETRY)
    transport = WebSocketTransport(server.ws_url, http, retry=FAST_RETRY, lifetime=0.0)
    history = fresh_history()
    try:
        for _ in range(3):
            await turn(transport, history)
    finally:
        await transport.aclose()
    records = server.records
    assert [r.connection for r in records] == [1, 2, 3]
    assert all(r.previous_response_id is None for r in records)  # each new: full input
    assert all(r.error_code is None for r in records)


async def test_prepare_connects_early_or_learns_there_is_no_websocket() -> None:
    async with MockModelServer(SCRIPT) as server:
        transport = transport_for(server.url, "websocket")
        assert isinstance(transport, WebSocketTransport)
        try:
            await transport.prepare()
            assert transport.connection is not None
            await turn(transport, fresh_history())
        finally:
            await transport.aclose()
        assert server.records[0].connection == 1 and transport.stats.reconnects == 0
    async with MockModelServer(SCRIPT, websocket=False) as server:
        transport = transport_for(server.url, "websocket")
        try:
            await transport.prepare()  # the 426 is learnt here, without an exception
            assert transport.name == "http"
            await turn(transport, fresh_history())
        finally:
            await transport.aclose()
        assert [r.transport for r in server.records] == ["http"]


@pytest.mark.parametrize("choice", ["http", "websocket"])
async def test_lifecycle_events_can_be_skipped_unparsed(
    server: MockModelServer, choice: str
) -> None:
    transport = transport_for(server.url, choice, skip_lifecycle=True)  # type: ignore[arg-type]
    history = fresh_history()
    try:
        events = await turn(transport, history)
        events += await turn(transport, history)
    finally:
        await transport.aclose()
    kinds = [e["type"] for e in events]
    assert "response.created" not in kinds and "response.in_progress" not in kinds
    assert kinds.count("response.completed") == 2
    assert [i["type"] for i in history.items[1:]] == [
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
