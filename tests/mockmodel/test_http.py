"""HTTP+SSE and JSON, driven by the official ``openai`` SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest

from agent.mockmodel import MockModelServer
from schemas.responses import (
    KNOWN_INPUT_ITEM_TYPES,
    error_body_adapter,
    response_adapter,
    stream_event_adapter,
)
from tests.mockmodel.conftest import sdk

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "read_file",
        "description": "Read a file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]

SCRIPT = {
    "turns": [
        [
            {"type": "reasoning", "summary": ["Read the README first."], "tokens": 12},
            {"type": "function_call", "name": "read_file", "arguments": {"path": "README.md"}},
        ],
        ["The project is called toolwire."],
    ]
}

EXPECTED_FUNCTION_CALL_STREAM = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",  # reasoning
    "response.reasoning_summary_part.added",
    *["response.reasoning_summary_text.delta"] * 5,
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
    "response.output_item.done",
    "response.output_item.added",  # function call
    *["response.function_call_arguments.delta"] * 7,
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.completed",
]


async def test_raw_stream_has_the_real_event_sequence() -> None:
    async with MockModelServer(SCRIPT) as srv:
        client = sdk(srv)
        stream = await client.responses.create(
            model="gpt-test", input="What is this project?", tools=TOOLS, stream=True
        )
        events = [event async for event in stream]

    assert [e.type for e in events] == EXPECTED_FUNCTION_CALL_STREAM
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for event in events:  # and every payload fits our own wire schema
        stream_event_adapter().validate_python(event.to_dict())

    created, completed = events[0], events[-1]
    assert created.type == "response.created" and completed.type == "response.completed"
    assert created.response.status == "in_progress" and created.response.output == []
    assert completed.response.id == created.response.id
    assert completed.response.status == "completed"
    assert completed.response.tools[0].to_dict()["name"] == "read_file"  # request settings echoed
    reasoning, call = completed.response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Read the README first."
    assert call.type == "function_call" and call.name == "read_file"
    assert json.loads(call.arguments) == {"path": "README.md"}
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert deltas == call.arguments
    usage = completed.response.usage
    assert usage is not None
    assert usage.output_tokens_details.reasoning_tokens == 12 + 5  # hidden + summary pieces
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


async def test_stream_helper_assembles_the_final_response() -> None:
    async with MockModelServer(SCRIPT) as srv:
        client = sdk(srv)
        async with client.responses.stream(
            model="gpt-test", input="What is this project?", tools=TOOLS
        ) as stream:
            texts = [e async for e in stream]
            final = await stream.get_final_response()
    assert texts[-1].type == "response.completed"
    assert [item.type for item in final.output] == ["reasoning", "function_call"]
    call = final.output[1]
    assert call.type == "function_call" and call.parsed_arguments == {"path": "README.md"}


async def test_non_streaming_returns_the_response_object() -> None:
    async with MockModelServer(["Hello there."]) as srv:
        response = await sdk(srv).responses.create(model="gpt-test", input="hi")
        record = srv.records[0]
    assert response.output_text == "Hello there."
    assert response.status == "completed" and response.object == "response"
    response_adapter().validate_python(response.to_dict())
    assert record.stream is False and record.status == "completed"
    assert response.usage is not None and record.input_tokens == response.usage.input_tokens


async def test_stateless_follow_up_with_function_call_output() -> None:
    """The client keeps the history (``store: false``) and sends it all back, reasoning
    included as ``encrypted_content``; the script moves on to the next turn."""
    async with MockModelServer(SCRIPT) as srv:
        client = sdk(srv)
        history: list[Any] = [{"role": "user", "content": "What is this project?"}]
        first = await client.responses.create(
            model="gpt-test",
            input=history,
            tools=TOOLS,
            store=False,
            include=["reasoning.encrypted_content"],
        )
        reasoning, call = first.output
        assert reasoning.type == "reasoning" and reasoning.encrypted_content
        assert call.type == "function_call"
        history += [item.to_dict() for item in first.output]
        history.append(
            {"type": "function_call_output", "call_id": call.call_id, "output": "# toolwire"}
        )
        second = await client.responses.create(
            model="gpt-test", input=history, tools=TOOLS, store=False
        )
        records = srv.records
    assert second.output_text == "The project is called toolwire."
    assert [r.turn for r in records] == ["turns[0]", "turns[1]"]
    assert records[1].item_count == 4 and records[1].previous_response_id is None


async def test_reasoning_encrypted_content_only_when_included() -> None:
    async with MockModelServer(SCRIPT) as srv:
        response = await sdk(srv).responses.create(model="gpt-test", input="x", tools=TOOLS)
    assert response.output[0].type == "reasoning"
    assert response.output[0].encrypted_content is None


async def test_previous_response_id_over_http_needs_store() -> None:
    async with MockModelServer(SCRIPT) as srv:
        client = sdk(srv)
        stored = await client.responses.create(model="gpt-test", input="x", tools=TOOLS)
        call = stored.output[1]
        assert call.type == "function_call"
        follow = await client.responses.create(
            model="gpt-test",
            previous_response_id=stored.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "ok"}],
            tools=TOOLS,
        )
        assert follow.output_text == "The project is called toolwire."
        unstored = await client.responses.create(model="gpt-test", input="x", store=False)
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(
                model="gpt-test", previous_response_id=unstored.id, input="more"
            )
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"


async def test_compact_then_continue_with_the_compaction_item() -> None:
    script = {"turns": [["one"], ["two"], ["three"]]}
    async with MockModelServer(script) as srv:
        client = sdk(srv)
        history: list[Any] = [{"role": "user", "content": "first"}]
        for question in ("second", "third"):
            reply = await client.responses.create(model="gpt-test", input=history, store=False)
            history += [item.to_dict() for item in reply.output]
            history.append({"role": "user", "content": question})
        compacted = await client.responses.compact(model="gpt-test", input=history)
        assert compacted.object == "response.compaction"
        # (The SDK types this output as assistant-style items, so dump without its
        # serializer warnings: the user messages carry ``input_text`` parts.)
        window: list[Any] = [item.to_dict(warnings=False) for item in compacted.output]
        compaction = compacted.output[-1]
        assert [m["role"] for m in window[:-1]] == ["user"] * 3
        assert [m["content"][0]["text"] for m in window[:-1]] == [
            "first",
            "second",
            "third",
        ]
        assert compaction.type == "compaction" and compaction.encrypted_content
        assert compacted.usage.input_tokens > 0
        # The compacted window replaces the history; the model knows two turns happened.
        after = await client.responses.create(model="gpt-test", input=window, store=False)
        assert after.output_text == "three"
        forged = [*history, {"type": "compaction", "encrypted_content": "not-ours"}]
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(model="gpt-test", input=forged)
        assert caught.value.code == "invalid_encrypted_content"
        assert [r.endpoint for r in srv.records][:4] == [
            "responses",
            "responses",
            "compact",
            "responses",
        ]


async def test_scripted_failures_surface_like_the_real_api() -> None:
    script = {
        "turns": [
            {
                "output": ["partial"],
                "status": "incomplete",
                "incomplete_reason": "max_output_tokens",
            },
            {
                "output": [],
                "status": "failed",
                "error": {"code": "server_error", "message": "boom"},
            },
            {"output": [], "status": "error", "error": {"code": "overloaded", "message": "busy"}},
        ]
    }

    def history(turns: int) -> list[Any]:
        items: list[Any] = [{"role": "user", "content": "go"}]
        for _ in range(turns):
            items += [{"role": "assistant", "content": "..."}, {"role": "user", "content": "go"}]
        return items

    async with MockModelServer(script) as srv:
        client = sdk(srv)
        incomplete = [
            e async for e in await client.responses.create(model="m", input=history(0), stream=True)
        ]
        assert incomplete[-1].type == "response.incomplete"
        details = incomplete[-1].response.incomplete_details
        assert details is not None and details.reason == "max_output_tokens"
        failed = [
            e async for e in await client.responses.create(model="m", input=history(1), stream=True)
        ]
        assert failed[-1].type == "response.failed"
        error = failed[-1].response.error
        assert error is not None and error.code == "server_error"
        errored = [
            e async for e in await client.responses.create(model="m", input=history(2), stream=True)
        ]
        assert errored[-1].type == "error"
        assert (errored[-1].code, errored[-1].message) == ("overloaded", "busy")
        with pytest.raises(openai.InternalServerError):
            await client.responses.create(model="m", input=history(2))
        plain = await client.responses.create(model="m", input=history(1))
        assert plain.status == "failed" and plain.error is not None


@pytest.mark.parametrize(
    ("request_body", "param", "code"),
    [
        ({"input": "hi"}, "model", "missing_required_parameter"),
        ({"model": "m", "input": [{"type": "telepathy"}]}, "input[0].type", "invalid_value"),
        (
            {"model": "m", "input": [{"role": "robot", "content": "x"}]},
            "input[0].role",
            "invalid_value",
        ),
        (
            {
                "model": "m",
                "input": [
                    {"type": "function_call_output", "call_id": "call_x", "output": "orphan"}
                ],
            },
            "input",
            None,
        ),
        (
            {"model": "m", "input": "x", "tools": [{"type": "function", "name": "bad name!"}]},
            "tools[0].name",
            "invalid_value",
        ),
        (
            {"model": "m", "input": "x", "tools": [{"type": "function", "name": "n" * 65}]},
            "tools[0].name",
            "string_above_max_length",
        ),
        ({"model": "m", "input": 42}, "input", "invalid_type"),
        ({"model": "m", "input": "x", "generate": False}, "generate", "unknown_parameter"),
    ],
)
async def test_invalid_requests_get_the_real_error_body(
    echo_server: MockModelServer, request_body: dict[str, Any], param: str, code: str | None
) -> None:
    async with httpx2.AsyncClient() as http:
        reply = await http.post(f"{echo_server.url}/responses", json=request_body)
    assert reply.status_code == 400
    body = reply.json()
    error_body_adapter().validate_python(body)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    assert body["error"]["code"] == code


async def test_invalid_requests_through_the_sdk(echo_server: MockModelServer) -> None:
    client = sdk(echo_server)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="m",
            input=[{"type": "function_call_output", "call_id": "call_404", "output": "x"}],
        )
    assert "No tool call found for function call output with call_id call_404" in str(caught.value)
    with pytest.raises(openai.BadRequestError) as bad_name:
        await client.responses.create(
            model="m",
            input="x",
            tools=[{"type": "function", "name": "has space", "parameters": {}, "strict": False}],
        )
    assert bad_name.value.param == "tools[0].name"
    # every known item type passes the type check (content checks aside)
    assert "message" in KNOWN_INPUT_ITEM_TYPES and "compaction" in KNOWN_INPUT_ITEM_TYPES


async def test_unknown_routes_and_bad_json(echo_server: MockModelServer) -> None:
    async with httpx2.AsyncClient() as http:
        missing = await http.post(f"{echo_server.url}/chat/completions", json={})
        wrong_method = await http.get(f"{echo_server.url}/responses")
        not_json = await http.post(
            f"{echo_server.url}/responses",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
    assert missing.status_code == 404 and "Invalid URL" in missing.json()["error"]["message"]
    assert wrong_method.status_code == 405
    assert (
        not_json.status_code == 400 and not_json.json()["error"]["type"] == "invalid_request_error"
    )
    assert echo_server.records[-1].status == "error"


async def test_sse_wire_format(echo_server: MockModelServer) -> None:
    """``event:`` and ``data:`` lines, a blank line between events, no ``[DONE]``."""
    async with httpx2.AsyncClient() as http:
        reply = await http.post(
            f"{echo_server.url}/responses", json={"model": "m", "input": "hi", "stream": True}
        )
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["x-request-id"].startswith("req_")
    blocks = [b for b in reply.text.split("\n\n") if b]
    assert "[DONE]" not in reply.text
    for block in blocks:
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        assert json.loads(data_line[6:])["type"] == event_line[7:]
