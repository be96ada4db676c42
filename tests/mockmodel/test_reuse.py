"""What the mock reuses from one request to the next, and where ``server_ms`` starts and
stops: reuse must never change an answer, only its cost."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect as ws_connect

from agent.mockmodel import MockModel, MockModelServer, Record, load_script
from agent.mockmodel.app import ARRIVAL_STATE, Arrival, MockModelApp
from agent.mockmodel.conversation import scan
from agent.mockmodel.engine import Plan
from agent.mockmodel.errors import ApiError
from agent.mockmodel.jsontext import dumps, dumps_with
from agent.mockmodel.parsing import Parsed, RequestMemo
from agent.mockmodel.prompt import header_bytes, items_bytes
from agent.mockmodel.validation import validate_create
from tests.mockmodel.conftest import sdk

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": f"tool_{i}",
        "description": "A tool. " * 10,
        "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
        "strict": False,
    }
    for i in range(3)
]
CALL = {"type": "function_call", "name": "tool_0", "arguments": {"x": "y"}}
SCRIPT = load_script({"turns": [[CALL] for _ in range(6)], "final": "Done."})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(
    st.sampled_from(["model", "tools", "input", "instructions", "x", "ü"]), json_values
)
formats = st.sampled_from(
    [
        {"separators": (",", ":")},
        {},
        {"indent": 2},
        {"ensure_ascii": False, "separators": (" , ", " : ")},
    ]
)


# -- parsing -----------------------------------------------------------------------------


@given(json_objects, formats, formats)
def test_parse_is_json_loads(
    first: dict[str, Any], fmt: dict[str, Any], again: dict[str, Any]
) -> None:
    """Member by member, with memory or without, the result is json.loads's."""
    memo = RequestMemo()
    text = json.dumps(first, **fmt)
    assert memo.parse(text).data == json.loads(text)
    assert memo.parse(text.encode()).data == json.loads(text)
    second = json.dumps(first, **again)  # now with what the first left in memory
    assert memo.parse(second).data == json.loads(second)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'{"a": 1',
        b'{"a": 1,}',
        b'{"a" 1}',
        b'{"a": 1} x',
        b'{"input": [{"a": 1},]}',
        b"\xff{}",
    ],
)
def test_parse_rejects_what_json_rejects(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        RequestMemo().parse(raw)
    assert caught.value.status == 400


def test_parse_accepts_other_encodings_as_json_does() -> None:
    body = {"model": "m", "input": "grüß"}
    for raw in (json.dumps(body).encode("utf-16"), b"\xef\xbb\xbf" + json.dumps(body).encode()):
        assert RequestMemo().parse(raw).data == body


def test_same_tools_text_is_parsed_and_encoded_once() -> None:
    memo = RequestMemo()
    first = memo.parse(json.dumps({"model": "m", "tools": TOOLS}))
    second = memo.parse(json.dumps({"tools": TOOLS, "model": "other"}))
    assert first.tools is not None and second.tools is first.tools
    assert second.data["tools"] is first.data["tools"] == TOOLS
    assert first.tools.json == dumps(TOOLS)


def test_changed_tools_are_not_taken_from_memory() -> None:
    memo = RequestMemo()
    memo.parse(json.dumps({"tools": TOOLS}))
    renamed = [{**TOOLS[0], "name": "renamed"}, *TOOLS[1:]]
    reordered = [dict(reversed(list(tool.items()))) for tool in TOOLS]  # same dicts, other order
    for tools in (renamed, reordered, TOOLS[:2]):
        parsed = memo.parse(json.dumps({"tools": tools}))
        assert parsed.tools is not None
        assert parsed.data["tools"] == tools
        assert parsed.tools.json == dumps(tools)  # key order kept: it is what the model reads


def _answer(model: MockModel, body: str) -> tuple[Parsed, Record, Plan]:
    """Parse, check and answer one HTTP request body (which the model then remembers)."""
    parsed = model.memo.parse(body)
    record = Record(seq=1, transport="http", endpoint="responses", started_at=0, bytes_received=0)
    plan = model.plan(validate_create(parsed, transport="http"), None, record)
    return parsed, record, plan


def test_an_input_that_extends_a_remembered_one_reuses_its_items() -> None:
    model = MockModel()
    items: list[Any] = [{"role": "user", "content": "hi"}, {"role": "user", "content": "more"}]
    first, _, _ = _answer(model, json.dumps({"model": "m", "input": items}))
    longer = [*items, {"role": "user", "content": "and more"}]
    for text in (
        json.dumps({"model": "m", "input": longer}),
        json.dumps({"input": longer, "model": "m"}, indent=1),  # differs, from the first item
        json.dumps({"model": "m", "input": [*items[:1], {"role": "user", "content": "other"}]}),
    ):
        assert model.memo.parse(text).data == json.loads(text)
    same_start = model.memo.parse(json.dumps({"model": "m", "input": longer}))
    assert same_start.known_input is not None
    assert same_start.data["input"][0] is first.data["input"][0]  # not parsed again
    differs = model.memo.parse(json.dumps({"model": "m", "input": [items[0], longer[2]]}))
    assert differs.known_input is None


def test_text_after_a_remembered_input_is_still_checked() -> None:
    model = MockModel()
    _answer(model, '{"model": "m", "input": [{"role": "user", "content": "a"}]}')
    memo = model.memo
    assert memo.parse('{"model": "m", "input": [{"role": "user", "content": "a"} ]}').known_input
    with pytest.raises(ApiError):  # the remembered text, then not "," or "]"
        memo.parse('{"model": "m", "input": [{"role": "user", "content": "a"}5]}')


def test_validation_still_names_the_bad_new_item() -> None:
    model = MockModel()
    items: list[Any] = [{"role": "user", "content": "hi"}]
    _answer(model, json.dumps({"model": "m", "input": items}))
    parsed = model.memo.parse(json.dumps({"model": "m", "input": [*items, {"type": "bogus"}]}))
    assert parsed.known_input is not None
    with pytest.raises(ApiError) as caught:
        validate_create(parsed, transport="http")
    assert caught.value.param == "input[1].type"


def test_warm_answers_equal_cold_answers() -> None:
    """A conversation re-sent in full each turn, answered by one model (which reuses what
    it saw) and, request by request, by fresh ones (which reuse nothing)."""
    warm = MockModel(SCRIPT)
    history: list[Any] = [{"role": "user", "content": "Go."}]
    for turn in range(5):
        body = json.dumps({"model": "m", "tools": TOOLS, "input": history})
        parsed, record, plan = _answer(warm, body)
        _, cold_record, cold_plan = _answer(MockModel(SCRIPT), body)
        assert (parsed.known_input is not None) == (turn > 0)
        assert record.context_items == cold_record.context_items == turn * 2 + 1
        assert record.turn == cold_record.turn == f"turns[{turn}]"
        assert record.input_tokens == cold_record.input_tokens
        warm_context, cold_context = plan.conversation.context, cold_plan.conversation.context
        assert warm_context.blob.startswith(items_bytes(history))
        assert cold_context.blob.startswith(items_bytes(history))
        assert warm_context.facts.turns == cold_context.facts.turns == turn + 1
        call = plan.final["output"][0]
        assert call["name"] == cold_plan.final["output"][0]["name"]
        history += [
            call,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"},
        ]


@given(st.lists(st.sampled_from(["user", "call", "output", "assistant"]), max_size=12), st.data())
def test_scan_resumes_where_it_stopped(kinds: list[str], data: st.DataObject) -> None:
    items: list[dict[str, Any]] = []
    for index, kind in enumerate(kinds):
        if kind == "user":
            items.append({"role": "user", "content": str(index)})
        elif kind == "assistant":
            items.append({"type": "message", "role": "assistant", "content": "a"})
        elif kind == "call":
            items.append(
                {"type": "function_call", "call_id": f"c{index}", "name": "t", "arguments": "{}"}
            )
        else:
            items.append(
                {"type": "function_call_output", "call_id": f"c{index - 1}", "output": "o"}
            )
    cut = data.draw(st.integers(0, len(items)))
    head = scan(items[:cut])
    assert scan(items[cut:], after=head) == scan(items)
    assert head == scan(items[:cut])  # left as it was


# -- encoding ----------------------------------------------------------------------------


@given(st.dictionaries(st.text(max_size=4), json_values, min_size=1), st.data())
def test_dumps_with_is_dumps(obj: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    assert dumps_with(obj, key, dumps(obj[key])) == dumps(obj)


def test_header_is_instructions_and_tools_as_one_object() -> None:
    expected = json.dumps(
        {"instructions": "Be brief. ü", "tools": TOOLS}, ensure_ascii=False, separators=(",", ":")
    )
    assert header_bytes("Be brief. ü", dumps(TOOLS)) == expected.encode()


def test_events_encode_as_plain_json() -> None:
    body = json.dumps({"model": "m", "tools": TOOLS, "instructions": "x", "input": "hi"})
    _, _, plan = _answer(MockModel(SCRIPT), body)
    for event in plan.events:
        assert plan.event_json(event) == dumps(event)
    assert plan.response_json(plan.final) == dumps(plan.final)


# -- on the wire -------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.usefixtures("close_clients")
async def test_changed_tools_reach_the_echo_and_the_token_count() -> None:
    async with MockModelServer() as srv:
        client = sdk(srv)
        bigger = [*TOOLS, {**TOOLS[0], "name": "tool_extra"}]
        echoed = []
        for tools in (TOOLS, bigger, TOOLS):
            stream = await client.responses.create(model="m", input="hi", tools=tools, stream=True)
            events = [event async for event in stream]
            created, completed = events[0], events[-1]
            assert created.type == "response.created" and completed.type == "response.completed"
            names = [tool.to_dict()["name"] for tool in completed.response.tools]
            assert names == [tool.to_dict()["name"] for tool in created.response.tools]
            echoed.append(names)
        tokens = [record.input_tokens for record in srv.records]
    assert echoed == [["tool_0", "tool_1", "tool_2"], [*echoed[0], "tool_extra"], echoed[0]]
    assert tokens[0] == tokens[2] < tokens[1]


@pytest.mark.anyio
async def test_the_websocket_server_compresses_with_a_full_window() -> None:
    async with MockModelServer() as srv, ws_connect(srv.ws_url, compression="deflate") as ws:
        (deflate,) = ws.protocol.extensions
        assert getattr(deflate, "remote_max_window_bits", None) == 15


# -- server_ms ---------------------------------------------------------------------------


async def _post(app: MockModelApp, body: bytes, arrival: Arrival, on_last_send: float = 0) -> None:
    """One ``POST /v1/responses`` straight into the ASGI app; the send that ends the body
    takes ``on_last_send`` seconds, as a slow socket would."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            await anyio.sleep(on_last_send)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/responses",
        "state": {ARRIVAL_STATE: arrival},
    }
    await app(scope, receive, send)


@pytest.mark.anyio
async def test_server_ms_runs_from_arrival_to_the_last_byte(tmp_path: Path) -> None:
    log = tmp_path / "records.jsonl"
    model = MockModel(record=log)
    app = MockModelApp(model)
    body = json.dumps({"model": "m", "input": "hi", "stream": True}).encode()
    arrival = Arrival()
    arrival.at = time.perf_counter() - 0.2  # the bytes came in a while ago
    await _post(app, body, arrival)
    await _post(app, body, Arrival(), on_last_send=0.2)
    model.records.close()
    early, slow_write = model.records.snapshot()
    assert early.server_ms >= 200  # counted from the arrival, not from the handler's start
    assert slow_write.server_ms >= 200  # and up to the end of the last write
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["server_ms"] for line in lines] == [
        round(r.server_ms, 3) for r in (early, slow_write)
    ]


@pytest.mark.anyio
@pytest.mark.usefixtures("close_clients")
async def test_our_uvicorn_reports_arrivals_on_both_transports() -> None:
    srv = MockModelServer()
    arrivals: list[object] = []
    app = srv.app

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        arrivals.append(scope["state"].get(ARRIVAL_STATE))
        await app(scope, receive, send)

    srv.app = spy  # type: ignore[assignment]
    async with srv:
        await sdk(srv).responses.create(model="m", input="hi")
        async with ws_connect(srv.ws_url) as ws:
            await ws.send(json.dumps({"type": "response.create", "model": "m", "input": "hi"}))
            while json.loads(await ws.recv())["type"] != "response.completed":
                pass
    assert len(arrivals) == 2 and all(isinstance(a, Arrival) for a in arrivals)
    assert arrivals[0] is not arrivals[1]  # one per connection
