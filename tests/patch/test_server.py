"""apply_patch over MCP: in-process in both protocol eras, and as a real stdio subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from schemas.patch import ApplyPatchResult
from servers.common.workspace import Workspace
from servers.patch import PatchSettings, create_server
from servers.registry import build
from tests.patch.conftest import codex
from tests.support import MODES, stdio_client, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text("def main():\n    return 1\n")
    return root


def server_for(root: Path) -> object:
    settings = PatchSettings(Workspace.from_paths([root]), journal_dir=root.parent / "journal")
    return create_server(settings)


@pytest.mark.parametrize("mode", MODES)
async def test_tool_contract(root: Path, mode: str) -> None:
    async with Client(server_for(root), mode=mode) as client:  # type: ignore[arg-type]
        (tool,) = (await client.list_tools()).tools
    assert tool.name == "apply_patch"
    assert tool.annotations is not None
    assert tool.annotations.destructive_hint is True
    assert tool.annotations.idempotent_hint is False
    assert tool.annotations.read_only_hint is False
    assert tool.output_schema is not None
    assert set(tool.input_schema["properties"]) == {"input", "dry_run"}
    assert "*** Begin Patch" in (tool.description or "")


@pytest.mark.parametrize("mode", MODES)
async def test_apply_returns_text_and_structured_content(root: Path, mode: str) -> None:
    patch = codex("*** Update File: app.py", "@@ def main():", "-    return 1", "+    return 2")
    async with Client(server_for(root), mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool("apply_patch", {"input": patch})
    assert not result.is_error
    assert (root / "app.py").read_text() == "def main():\n    return 2\n"
    text = text_of(result)
    assert text.startswith("Changed 1 file (+1 -1)\nM app.py (+1 -1)")
    assert "-    return 1\n+    return 2" in text
    data = ApplyPatchResult.model_validate(result.structured_content)
    assert data.applied and data.format == "codex" and data.files[0].path == "app.py"


@pytest.mark.parametrize("mode", MODES)
async def test_errors_come_back_as_tool_errors(root: Path, mode: str) -> None:
    patch = codex(
        "*** Add File: new.txt", "+x",
        "*** Update File: app.py", "@@", "-    return 3", "+    return 4",
    )  # fmt: skip
    async with Client(server_for(root), mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool("apply_patch", {"input": patch})
        again = await client.call_tool("apply_patch", {"input": "nonsense"})
    assert result.is_error and again.is_error
    text = text_of(result)
    assert "app.py, hunk 1 of 1 does not apply" in text
    assert "-    return 3" in text and "2 |     return 1" in text
    assert text.endswith("No file was changed.")
    assert not (root / "new.txt").exists()
    assert "does not start with '*** Begin Patch'" in text_of(again)


async def test_dry_run_and_outside_paths(root: Path) -> None:
    async with Client(server_for(root), mode="auto") as client:  # type: ignore[arg-type]
        dry = await client.call_tool(
            "apply_patch", {"input": codex("*** Delete File: app.py"), "dry_run": True}
        )
        outside = await client.call_tool(
            "apply_patch", {"input": codex("*** Add File: ../escape.txt", "+x")}
        )
    assert not dry.is_error and (root / "app.py").exists()
    assert text_of(dry).startswith("Would change 1 file (+0 -2); dry run, nothing written")
    assert outside.is_error and "outside the workspace" in text_of(outside)
    assert not (root.parent / "escape.txt").exists()


async def test_registered_in_the_registry(root: Path) -> None:
    server = build("patch", Workspace.from_paths([root]), journal_dir=root.parent / "j")
    async with Client(server, mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
    assert names == ["apply_patch"]


async def test_stdio_subprocess(root: Path) -> None:
    patch = (
        "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n"
        "@@ -1,2 +1,2 @@\n def main():\n-    return 1\n+    return 42\n"
    )
    args = ("--root", str(root), "--journal-dir", str(root.parent / "journal"), "--fsync")
    async with stdio_client("servers.patch", *args) as client:
        result = await client.call_tool("apply_patch", {"input": patch})
    assert not result.is_error, text_of(result)
    assert (root / "app.py").read_text() == "def main():\n    return 42\n"
    assert ApplyPatchResult.model_validate(result.structured_content).format == "unified"
