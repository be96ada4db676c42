"""A whole loop in-process: the real hub with bundled servers over stdio, the scripted
model server on loopback, both transports."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_settings
from agent.hub import Hub
from agent.mockmodel import MockModelServer
from tests.agent.helpers import build_agent, responses, transport_for

pytestmark = pytest.mark.anyio


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": arguments}


SCRIPT = {
    "turns": [
        [
            {"type": "reasoning", "summary": "Look around first."},
            call("list_dir", path="."),
            call("read_file", path="textstats/words.py"),
            call("grep", pattern="def top_words", path="."),
        ],
        [
            "The bug is in words().",
            call(
                "update_plan",
                plan=[
                    {"step": "find the bug", "status": "completed"},
                    {"step": "report", "status": "in_progress"},
                ],
            ),
        ],
        [call("get_plan")],
        ["The bug is that words() never lower-cases its input."],
    ]
}


@pytest.mark.parametrize("choice", ["http", "websocket"])
async def test_rollout_over_real_tool_servers(env: Path, workspace: Path, choice: str) -> None:
    settings = load_settings(
        workspace,
        user_config=None,
        entry_points=False,
        bundled=("files", "search", "plan"),
        overrides=[f'servers.plan.args=["--state-file", "{workspace.parent / "plan.json"}"]'],
    )
    async with MockModelServer(SCRIPT) as server, Hub.start(settings) as hub:
        transport = transport_for(server.url, choice)  # type: ignore[arg-type]
        agent = build_agent(transport, hub)
        try:
            result = await agent.run("Find the bug in textstats.")
        finally:
            await transport.aclose()
        records = responses(server.records)

    assert result.status == "completed", result
    assert result.final_text.startswith("The bug is that words()")
    outputs = {
        i["call_id"]: i["output"]
        for i in agent.history.items
        if i["type"] == "function_call_output"
    }
    calls = [i for i in agent.history.items if i["type"] == "function_call"]
    assert [c["name"] for c in calls] == [
        "list_dir",
        "read_file",
        "grep",
        "update_plan",
        "get_plan",
    ]
    texts = [str(outputs[c["call_id"]]) for c in calls]
    assert "textstats" in texts[0]
    assert "_WORD.findall(text)" in texts[1]
    assert "words.py" in texts[2]
    assert not any(t.startswith("ERROR") for t in texts), texts
    assert "report" in texts[4]
    # the three calls of the first turn were answered in call order
    first_turn = [i["call_id"] for i in agent.history.items if i["type"] == "function_call"][:3]
    answered = [i["call_id"] for i in agent.history.items if i["type"] == "function_call_output"]
    assert answered[:3] == first_turn
    assert all(r.status == "completed" for r in records)
    if choice == "http":
        bodies = [r.body["input"] for r in records if r.body]
        for before, after in itertools.pairwise(bodies):
            assert after[: len(before)] == before
        tools = {str(r.body["tools"]) for r in records if r.body}
        assert len(tools) == 1  # byte-stable tools every turn
    else:
        assert records[0].previous_response_id is None
        for before, after in itertools.pairwise(records):
            assert after.previous_response_id == before.response_id
        assert [r.item_count for r in records[1:]] == [3, 1, 1]
