from __future__ import annotations

from typing import Any

import pytest
from mcp_types import ListToolsResult, Tool

from agent.hub.connection import MAX_PAGES, describe, list_all_tools

pytestmark = pytest.mark.anyio


class Pages:
    """A stand-in client whose tools/list cursor never ends (or repeats)."""

    def __init__(self, repeat: bool) -> None:
        self.repeat = repeat
        self.calls = 0

    async def list_tools(self, *, cursor: str | None = None) -> ListToolsResult:
        self.calls += 1
        tool = Tool(name=f"t{self.calls}", input_schema={"type": "object"})
        following = "same" if self.repeat else f"page{self.calls}"
        return ListToolsResult(tools=[tool], next_cursor=following)


async def test_a_repeating_cursor_stops_the_walk() -> None:
    client: Any = Pages(repeat=True)
    tools = await list_all_tools(client)
    assert [t.name for t in tools] == ["t1", "t2"]


async def test_an_endless_cursor_is_cut_off() -> None:
    client: Any = Pages(repeat=False)
    tools = await list_all_tools(client)
    assert len(tools) == MAX_PAGES


def test_describe_unwraps_exception_groups() -> None:
    group = ExceptionGroup("x", [ValueError("bad"), ExceptionGroup("y", [OSError("gone")])])
    assert describe(group) == "bad; OSError: gone"
