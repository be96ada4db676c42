"""The agent loop against the scripted model server over both transports, with in-memory
tools (the end-to-end tests use the real hub and servers)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.approval import Annotations, Approver, Decision, Policy, Request
from agent.compaction import Compactor, Mode, Settings
from agent.mockmodel import Fault, MockModelServer
from agent.prompt import HANDOFF_PREFIX, HANDOFF_SUMMARY_PROMPT, message_text
from agent.session import Session, replay_file
from tests.agent.helpers import Collector, FakeTools, build_agent, inputs, responses, transport_for

pytestmark = pytest.mark.anyio
BOTH = pytest.mark.parametrize("choice", ["http", "websocket"])


def call(text: str, name: str = "echo") -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": {"text": text}}


PARALLEL = {
    "turns": [
        [{"type": "reasoning", "summary": "two at once"}, call("slow"), call("fast")],
        ["Looked at both.", call("third")],
        [{"type": "reasoning", "summary": "done"}, "All done."],
    ]
}


@BOTH
async def test_multi_turn_rollout_with_parallel_calls(choice: str) -> None:
    async def slow(args: dict[str, Any]) -> str:
        await anyio.sleep(0.05)
        return "slow result"

    tools = FakeTools(handlers={"echo": lambda a: f"echo {a['text']}"})
    tools.handlers["echo"] = lambda a: slow(a) if a["text"] == "slow" else f"echo {a['text']}"
    async with MockModelServer(PARALLEL) as server:
        transport = transport_for(server.url, choice)  # type: ignore[arg-type]
        agent = build_agent(transport, tools)
        try:
            result = await agent.run("do the thing")
        finally:
            await transport.aclose()
        records = responses(server.records)

    assert result.status == "completed" and result.final_text == "All done."
    assert result.turns == 3
    assert tools.peak == 2  # the two calls of turn 1 ran concurrently
    # outputs appended in call order although "slow" finished last
    outputs = [i["output"] for i in agent.history.items if i["type"] == "function_call_output"]
    assert outputs == ["slow result", "echo fast", "echo third"]
    assert all(r.status == "completed" for r in records)
    if choice == "websocket":
        # the context and the task, then only the new outputs
        assert [r.item_count for r in records] == [len(agent.context) + 1, 2, 1]
        assert all(r.previous_response_id for r in records[1:])
    else:
        bodies = inputs(records)
        for before, after in itertools.pairwise(bodies):
            assert after[: len(before)] == before  # each request extends the previous one
        assert len({r.body["tools"].__repr__() for r in records if r.body}) == 1


@BOTH
async def test_reasoning_items_round_trip_verbatim(choice: str) -> None:
    async with MockModelServer(PARALLEL) as server:
        transport = transport_for(server.url, choice)  # type: ignore[arg-type]
        agent = build_agent(transport, FakeTools())
        try:
            await agent.run("go")
            # a reconnect forces the full history over the WebSocket too
            transport.reset()
            agent.add_user_message("once more")
            await agent.run()
        finally:
            await transport.aclose()
        records = responses(server.records)
    reasoning = [i for i in agent.history.items if i["type"] == "reasoning"]
    assert reasoning and all(i.get("encrypted_content") for i in reasoning)
    last_input = records[-1].body["input"] if records[-1].body else []
    sent = [i for i in last_input if i.get("type") == "reasoning"]
    assert sent == reasoning  # byte-for-byte what the model produced, encrypted content too
    for body in inputs(records):
        assert all(i.get("encrypted_content") for i in body if i.get("type") == "reasoning")


COMPACT_SCRIPT = {
    "turns": [[call("alpha")], [call("beta")], ["Finished after compaction."]],
    "final": "Summary: echoed alpha, then beta.",
}


@BOTH
async def test_remote_compaction_keeps_the_run_going(choice: str, tmp_path: Path) -> None:
    collector = Collector()
    async with MockModelServer(COMPACT_SCRIPT) as server:
        transport = transport_for(server.url, choice)  # type: ignore[arg-type]
        session = Session.create({"context": 2}, directory=tmp_path)
        agent = build_agent(
            transport,
            FakeTools(),
            session=session,
            observer=collector,
            compactor=Compactor(
                Settings(context_window=1_000_000, threshold_tokens=1), remote_available=True
            ),
        )
        try:
            result = await agent.run("echo twice")
        finally:
            await transport.aclose()
            session.close()
        records = server.records
    assert result.status == "completed" and result.final_text == "Finished after compaction."
    assert collector.kinds("compacted") == ["remote", "remote"]
    assert [r.endpoint for r in records] == [
        "responses",
        "compact",
        "responses",
        "compact",
        "responses",
    ]
    after = records[2].body["input"] if records[2].body else []
    assert any(i.get("type") == "compaction" for i in after)
    assert after[:2] == agent.context  # the initial context stays first
    if choice == "websocket":
        assert records[2].previous_response_id is None  # rewritten history: full resend
    assert session.path is not None
    assert replay_file(session.path).items == agent.history.items


HANDOFF_SCRIPT = {
    "turns": [[call("alpha")]],
    "rules": [
        {"match": "^echo alpha$", "output": [call("beta")]},
        {"match": "^echo beta$", "output": ["Finished after the hand-off."]},
    ],
    "final": "Summary: called echo with alpha; waiting for its result.",
}


@BOTH
async def test_handoff_compaction_rebuilds_from_context_users_and_summary(choice: str) -> None:
    tools = FakeTools(handlers={"echo": lambda a: f"echo {a['text']}"})
    collector = Collector()
    async with MockModelServer(HANDOFF_SCRIPT) as server:
        transport = transport_for(server.url, choice)  # type: ignore[arg-type]
        agent = build_agent(
            transport,
            tools,
            observer=collector,
            compactor=Compactor(
                Settings(context_window=1_000_000, threshold_tokens=1, mode=Mode.HANDOFF),
                remote_available=True,
            ),
        )
        try:
            result = await agent.run("echo twice")
        finally:
            await transport.aclose()
        records = responses(server.records)
    assert result.status == "completed" and result.final_text == "Finished after the hand-off."
    assert collector.kinds("compacted") == ["handoff", "handoff"]
    assert all(r.endpoint == "responses" for r in server.records)
    summary_requests = (
        [
            r
            for r in records
            if r.body and message_text(r.body["input"][-1]) == HANDOFF_SUMMARY_PROMPT
        ]
        if choice == "http"
        else [r for r in records if r.turn == "final"]
    )
    assert len(summary_requests) == 2
    history = agent.history.items
    assert history[:2] == agent.context
    texts = [message_text(i) or "" for i in history]
    assert texts[2] == "echo twice"  # the user's own message survives
    assert texts[3].startswith(HANDOFF_PREFIX) and "alpha" in texts[3]
    assert sum(t.startswith(HANDOFF_PREFIX) for t in texts) == 1  # old summaries replaced
    assert [name for name, _ in tools.calls] == ["echo", "echo"]  # nothing was repeated


async def first_done_index(server: MockModelServer) -> int:
    """Where the first output item completes in the stream of a fresh conversation."""
    transport = transport_for(server.url, "http")
    agent = build_agent(transport, FakeTools())
    index = 0
    try:
        async for event in transport.stream(agent.template(), agent.history):
            if event["type"] == "response.output_item.done":
                break
            index += 1
    finally:
        await transport.aclose()
    server.clear_records()
    return index


@BOTH
async def test_a_stream_broken_after_a_call_continues_from_what_arrived(choice: str) -> None:
    script = {"turns": [[call("one"), call("two")], ["Both done."]]}
    collector = Collector()
    tools = FakeTools()
    async with MockModelServer(script) as server:
        transport = transport_for(server.url, choice)  # type: ignore[arg-type]
        agent = build_agent(transport, tools, observer=collector)
        server.inject(Fault(kind="drop", after_events=await first_done_index(server) + 1))
        try:
            result = await agent.run("go")
        finally:
            await transport.aclose()
    assert result.status == "completed"
    assert len(collector.kinds("interrupted")) == 1
    assert [a["text"] for _, a in tools.calls][:1] == ["one"]
    calls = [i for i in agent.history.items if i["type"] == "function_call"]
    answered = {i["call_id"] for i in agent.history.items if i["type"] == "function_call_output"}
    assert {c["call_id"] for c in calls} <= answered


async def test_denied_calls_do_not_run_and_the_model_is_told() -> None:
    script = {"turns": [[call("rm -rf /", name="danger")], ["Understood, I will not."]]}
    tools = FakeTools(
        handlers={"danger": lambda a: "ran"},
        hints={"danger": Annotations(read_only_hint=False, destructive_hint=True)},
    )
    asked: list[Request] = []

    async def ask(request: Request) -> Decision:
        asked.append(request)
        return Decision(False)

    async with MockModelServer(script) as server:
        transport = transport_for(server.url, "http")
        agent = build_agent(transport, tools, approver=Approver(Policy.ON_REQUEST, ask=ask))
        try:
            result = await agent.run("clean up")
        finally:
            await transport.aclose()
        last = server.records[-1].body
    assert result.final_text == "Understood, I will not."
    assert [r.name for r in asked] == ["danger"] and tools.calls == []
    output = last["input"][-1] if last else {}
    assert output["type"] == "function_call_output" and "denied" in output["output"]


async def test_turn_limit() -> None:
    script = {"rules": [{"match": ".", "output": [call("again")]}], "turns": [[call("go")]]}
    async with MockModelServer(script) as server:
        transport = transport_for(server.url, "http")
        agent = build_agent(transport, FakeTools(), max_turns=3)
        try:
            result = await agent.run("loop forever")
        finally:
            await transport.aclose()
    assert result.status == "max_turns" and result.turns == 3


async def test_incomplete_response_is_reported() -> None:
    script = {"turns": [{"output": ["partial"], "status": "incomplete"}]}
    async with MockModelServer(script) as server:
        transport = transport_for(server.url, "http")
        agent = build_agent(transport, FakeTools())
        try:
            result = await agent.run("write a novel")
        finally:
            await transport.aclose()
    assert result.status == "incomplete" and "max_output_tokens" in (result.error or "")


async def test_new_tools_mean_a_full_websocket_request() -> None:
    script = {"turns": [[call("a")], [call("b")], ["done"]]}
    tools = FakeTools()
    async with MockModelServer(script) as server:
        transport = transport_for(server.url, "websocket")
        agent = build_agent(transport, tools)

        original = tools.call_detailed

        async def add_a_tool(name: str, arguments: str, call_id: str) -> Any:
            if not tools.calls:
                tools.handlers["late"] = lambda a: "late"
                tools.revision += 1  # a server announced a changed tool list
            return await original(name, arguments, call_id)

        tools.call_detailed = add_a_tool  # type: ignore[method-assign]
        try:
            await agent.run("go")
        finally:
            await transport.aclose()
        records = server.records
    assert [r.tool_count for r in records] == [1, 2, 2]
    assert records[1].previous_response_id is None  # non-input fields changed
    assert records[2].previous_response_id == records[1].response_id


async def test_cancelled_run_leaves_a_valid_history(tmp_path: Path) -> None:
    script = {"turns": [[call("one"), call("two")], ["done"]]}
    tools = FakeTools(delay=10)
    async with MockModelServer(script) as server:
        transport = transport_for(server.url, "websocket")
        session = Session.create({}, directory=tmp_path)
        agent = build_agent(transport, tools, session=session)
        try:
            with anyio.move_on_after(0.5):
                await agent.run("go")
            agent.close_interrupted()
        finally:
            await transport.aclose()
            session.close()
    items = agent.history.items
    calls = {i["call_id"] for i in items if i["type"] == "function_call"}
    outputs = {i["call_id"] for i in items if i["type"] == "function_call_output"}
    assert calls and calls == outputs
    assert session.path is not None and replay_file(session.path).items == items
