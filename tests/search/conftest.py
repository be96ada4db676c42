"""Helpers for search tests: a small project tree and an in-process MCP client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.common.workspace import Workspace
from servers.search import SearchSettings, create_server
from tests.support import text_of


@asynccontextmanager
async def connect(*roots: Path, mode: str = "legacy", **settings: Any) -> AsyncIterator[Client]:
    workspace = Workspace.from_paths(roots)
    server = create_server(SearchSettings(workspace=workspace, **settings))
    async with Client(server, mode=mode) as client:
        yield client


class Called:
    """A tool call's outcome: structured content, text, and whether it failed."""

    def __init__(self, result: Any) -> None:
        self.data: dict[str, Any] = result.structured_content or {}
        self.text = text_of(result)
        self.error = bool(result.is_error)

    @property
    def matches(self) -> list[tuple[str, int]]:
        return [(m["path"], m["line"]) for m in self.data["matches"]]

    @property
    def files(self) -> list[str]:
        return [f if isinstance(f, str) else f["path"] for f in self.data["files"]]


async def call(client: Client, tool: str, **args: Any) -> Called:
    return Called(await client.call_tool(tool, args))


def write(path: Path, content: str | bytes, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small repository: sources, ignored and hidden files, a binary, unicode names."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)  # rg honours .gitignore only inside a repository
    write(root / ".git" / "config", "hello from git internals\n")
    write(root / ".gitignore", "build/\n*.log\n")
    write(root / ".ignore", "vendor/\n")
    write(
        root / "src" / "app.py",
        "import os\n\ndef hello():\n    return 'Hello world'\n\n\ndef main():\n    hello()\n",
        mtime=1_000_000,
    )
    write(root / "src" / "web" / "index.ts", "export const hello = () => 'hi';\n", mtime=3_000_000)
    write(root / "docs" / "README.md", "# Hello\n\nSay hello.\n", mtime=2_000_000)
    write(root / "build" / "out.py", "hello = 1\n")
    write(root / "debug.log", "hello in a log\n")
    write(root / "vendor" / "lib.py", "def hello(): pass\n")
    write(root / ".hidden" / "secret.py", "hello = 'hidden'\n")
    write(root / "data.bin", b"hello\x00\x01\x02 binary hello\n")
    write(root / "ünï" / "日本.txt", "日本語 hello\n")
    return root
