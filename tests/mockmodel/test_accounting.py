"""Token accounting (the prefix cache) and the latency model, as seen from a client."""

from __future__ import annotations

from typing import Any

import pytest

from agent.mockmodel import LatencyModel, MockModelServer
from agent.mockmodel.tokens import split_pieces
from tests.mockmodel.conftest import sdk
from tests.mockmodel.test_websocket import collect

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]

INSTRUCTIONS = "You are a careful coding agent. " * 200  # ~6.4 KB, ~1,600 tokens
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": f"tool_{i}",
        "description": "A tool. " * 20,
        "parameters": {"type": "object", "properties": {}},
        "strict": False,
    }
    for i in range(4)
]
TURNS = [[f"Answer number {i}: " + "details " * 40] for i in range(6)]


def is_step(cached: int) -> bool:
    return cached == 0 or (cached >= 1024 and (cached - 1024) % 128 == 0)


async def test_cached_tokens_grow_with_the_conversation() -> None:
    async with MockModelServer(TURNS) as srv:
        client = sdk(srv)
        history: list[Any] = [{"role": "user", "content": "Start."}]
        usages = []
        for turn in range(5):
            reply = await client.responses.create(
                model="m",
                instructions=INSTRUCTIONS,
                tools=TOOLS,
                input=history,
                prompt_cache_key="session-1",
                store=False,
            )
            assert reply.usage is not None
            usages.append(reply.usage)
            history += [item.to_dict() for item in reply.output]
            history.append({"role": "user", "content": f"Next question {turn}."})
        other_key = await client.responses.create(
            model="m",
            instructions=INSTRUCTIONS,
            tools=TOOLS,
            input=history,
            prompt_cache_key="session-2",
            store=False,
        )
        reordered = await client.responses.create(
            model="m",
            instructions=INSTRUCTIONS,
            tools=TOOLS[::-1],
            input=history,
            prompt_cache_key="session-1",
            store=False,
        )

    cached = [u.input_tokens_details.cached_tokens for u in usages]
    assert cached[0] == 0  # nothing earlier
    for before, now, c in zip(usages, usages[1:], cached[1:], strict=False):
        assert is_step(c)
        assert now.input_tokens > before.input_tokens  # the conversation grows
        # The whole previous prompt is a prefix: cached is it, rounded down to a step.
        assert before.input_tokens - 128 <= c <= before.input_tokens
    assert cached == sorted(cached)
    assert other_key.usage is not None and other_key.usage.input_tokens_details.cached_tokens == 0
    # Reordering the tools breaks the prefix right after the instructions.
    assert reordered.usage is not None
    partial = reordered.usage.input_tokens_details.cached_tokens
    assert is_step(partial) and 1024 <= partial < cached[-1]


async def test_websocket_increments_cost_what_a_full_resend_costs() -> None:
    """Sending only new items over the WebSocket must not look cheaper or dearer to the
    model than resending everything over HTTP: same input tokens, same cache hits."""

    async def over_http() -> list[tuple[int, int]]:
        async with MockModelServer(TURNS) as srv:
            client = sdk(srv)
            history: list[Any] = [{"role": "user", "content": "Start."}]
            for turn in range(3):
                reply = await client.responses.create(
                    model="m",
                    instructions=INSTRUCTIONS,
                    tools=TOOLS,
                    input=history,
                    prompt_cache_key="k",
                    store=False,
                )
                history += [item.to_dict() for item in reply.output]
                history.append({"role": "user", "content": f"Next {turn}."})
            return [(r.input_tokens, r.cached_tokens) for r in srv.records]

    async def over_websocket() -> list[tuple[int, int]]:
        async with MockModelServer(TURNS) as srv:
            async with sdk(srv).responses.connect() as conn:
                new: list[Any] = [{"role": "user", "content": "Start."}]
                previous = None
                for turn in range(3):
                    await conn.response.create(
                        model="m",
                        instructions=INSTRUCTIONS,
                        tools=TOOLS,
                        input=new,
                        prompt_cache_key="k",
                        store=False,
                        **({"previous_response_id": previous} if previous else {}),
                    )
                    previous = (await collect(conn))[-1].response.id
                    new = [{"role": "user", "content": f"Next {turn}."}]
            return [(r.input_tokens, r.cached_tokens) for r in srv.records]

    http, ws = await over_http(), await over_websocket()
    assert http == ws
    assert http[-1][1] > 1024


async def test_latency_model_schedule_is_recorded() -> None:
    text = "A reply of a few words, streamed piece by piece."
    pieces = len(split_pieces(text))
    latency = LatencyModel(overhead_ms=3, ttft_ms=7, tokens_per_second=2000, per_input_kb_ms=1)
    async with MockModelServer([[text], [text]], latency=latency) as srv:
        client = sdk(srv)
        first = await client.responses.create(model="m", input="x" * 8192, stream=True)
        first_events = [e async for e in first]
        (record,) = srv.records
    deltas = [e for e in first_events if e.type == "response.output_text.delta"]
    assert len(deltas) == pieces
    uncached_kb = record.input_tokens * 4 / 1024  # nothing cached yet
    expected = 3 + uncached_kb * 1 + 7 + pieces * 0.5
    assert record.simulated_ms == pytest.approx(expected)
    assert record.server_ms > 0


async def test_tokens_per_delta_groups_pieces() -> None:
    text = "one two three four five six seven"
    async with MockModelServer([[text]], latency=LatencyModel(tokens_per_delta=3)) as srv:
        stream = await sdk(srv).responses.create(model="m", input="hi", stream=True)
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
    assert deltas == ["one two three", " four five six", " seven"]
