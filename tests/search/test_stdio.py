"""The search server as a real stdio subprocess, the way an MCP client launches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.search.conftest import write
from tests.support import stdio_client, text_of

pytestmark = pytest.mark.anyio


async def test_over_stdio(tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "mod.py", "def target():\n    return 42\n")
    async with stdio_client("servers.search", "--root", str(tmp_path), "--timeout", "10") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        grep = await client.call_tool("grep", {"pattern": "def target"})
        found = await client.call_tool("find_files", {"pattern": "mod"})
    assert set(tools) == {"grep", "find_files"}
    annotations = tools["grep"].annotations
    assert annotations is not None and annotations.read_only_hint and annotations.idempotent_hint
    assert tools["grep"].output_schema is not None
    assert text_of(grep) == "pkg/mod.py:1:def target():"
    assert text_of(found) == "pkg/mod.py"
