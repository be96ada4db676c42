"""``toolwire new-server NAME``: write a ready-to-run tool server package.

The package follows the conventions of toolwire's own servers (``servers.common``): a settings
dataclass and ``create_server(settings)``, an async tool with described parameters, a result
model (so clients get an ``outputSchema`` and ``structuredContent``), annotations, ``ToolError``
for mistakes the model can fix, and the shared runner (stdio, or ``--http``). It registers itself
with toolwire through a ``toolwire.servers`` entry point and ships tests written with
:mod:`agent.testing` that pass as generated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_LENGTH = 40
"""Tools reach the model as ``<server>__<tool>``, at most 64 characters in all."""
RESERVED = frozenset({"files", "search", "patch", "shell", "plan", "agent", "servers", "schemas"})


class ScaffoldError(ValueError):
    """The name is unusable or the directory is taken; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Names:
    server: str
    """The server's name: distribution, console script, entry point (``weather-tools``)."""
    package: str
    """The import package (``weather_tools``)."""

    @classmethod
    def of(cls, name: str) -> Names:
        if not NAME.match(name) or len(name) > MAX_LENGTH:
            raise ScaffoldError(
                f"{name!r} is not a usable name: use lowercase letters and digits, words joined "
                f"by '-' or '_', starting with a letter, at most {MAX_LENGTH} characters "
                "(e.g. 'weather-tools')"
            )
        package = name.replace("-", "_")
        if package in RESERVED:
            raise ScaffoldError(f"{name!r} is taken by toolwire itself; pick another name")
        return cls(name, package)


def render(names: Names) -> dict[str, str]:
    """Relative path -> file content."""
    values = {"name": names.server, "package": names.package}
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{names.package}/__init__.py": INIT,
        f"{names.package}/server.py": SERVER,
        f"{names.package}/__main__.py": MAIN,
        "tests/conftest.py": CONFTEST,
        f"tests/test_{names.package}.py": TEST,
    }
    return {path: Template(text).substitute(values) for path, text in files.items()}


def write_project(name: str, parent: Path, *, force: bool = False) -> Path:
    """Write the package into ``parent/NAME`` and return that directory."""
    names = Names.of(name)
    root = parent / names.server
    if root.exists() and any(root.iterdir()) and not force:
        raise ScaffoldError(f"{root} already exists and is not empty (use --force to overwrite)")
    for relative, text in render(names).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "${name}"
version = "0.1.0"
description = "An MCP tool server built with toolwire."
requires-python = ">=3.11"
dependencies = ["toolwire"]

[project.optional-dependencies]
test = ["pytest>=8"]

# `${name} --root DIR` serves the tools to any MCP client (stdio; --http for HTTP).
[project.scripts]
${name} = "${package}.__main__:main"

# Installed next to toolwire, the agent finds the server by itself (tools: ${package}__*).
[project.entry-points."toolwire.servers"]
${name} = "${package}.server:create_server"

[tool.hatch.build.targets.wheel]
packages = ["${package}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# ${name}

An MCP tool server made with `toolwire new-server`. It offers one tool, `word_count(path)`,
that counts the lines, words and bytes of a file in the workspace. Replace it with yours.

```sh
pip install -e '.[test]'     # into the environment where toolwire is installed
pytest                       # the tests pass as generated
```

## Develop

```sh
toolwire dev ${package}                         # serves http://127.0.0.1:8765/mcp, restarts on save
toolwire call http://127.0.0.1:8765/mcp word_count path=README.md
toolwire schemas --write ${name}                # snapshot the tool contract (schemas/tools/)
toolwire schemas --check ${name}                # in CI: fail when the contract changes
```

`${package}/server.py` holds the tools. Follow the same rules as toolwire's own servers: tools are
`async`; parameters are `Annotated[type, Field(description=...)]` (the model reads them); the
result is a pydantic model returned through `tool_result(model, text)`; mistakes the model can
fix are raised as `ToolError` with a message saying what to do instead; every path goes through
`Workspace.resolve`, which refuses anything outside `--root`.

## Use it

- **toolwire**: installing the package registers it (entry point `toolwire.servers`); check with
  `toolwire tools`. Or name it in `toolwire.toml`:

  ```toml
  [servers.${name}]
  command = "${name}"
  args = ["--root", "."]
  ```

- **Claude Code / Cursor** (`.mcp.json` / `.cursor/mcp.json` in your project):

  ```json
  {"mcpServers": {"${name}": {"command": "/abs/venv/bin/${name}", "args": ["--root", "."]}}}
  ```

- **Codex** (`~/.codex/config.toml`):

  ```toml
  [mcp_servers.${name}]
  command = "/abs/venv/bin/${name}"
  ```

- **Over HTTP**: `${name} --root . --http --port 8765 --token s3cret`, then
  `http://127.0.0.1:8765/mcp` with `Authorization: Bearer s3cret`.
"""

INIT = '''\
"""${name}: an MCP tool server built with toolwire."""

from ${package}.server import Settings, create_server

__all__ = ["Settings", "create_server"]
'''

SERVER = '''\
"""The tool server. Add tools here; keep their logic in plain functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field
from servers.common.annotations import read_only
from servers.common.results import ToolError, tool_result
from servers.common.server import new_server
from servers.common.workspace import Workspace, WorkspaceError

MAX_BYTES = 50 * 1024 * 1024


class WordCount(BaseModel):
    path: str = Field(description="the file, as given")
    lines: int
    words: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Settings:
    workspace: Workspace = field(default_factory=Workspace.from_paths)
    """The directories the tools may read (``--root``; default: the current directory)."""


def count_words(path: Path) -> tuple[int, int, int]:
    """Plain logic, testable without MCP: (lines, words, bytes) of a file."""
    data = path.read_bytes()
    return data.count(b"\\n"), len(data.split()), len(data)


def create_server(settings: Settings | None = None) -> MCPServer[Any]:
    cfg = settings or Settings()
    server = new_server(
        "${name}",
        "Count the lines, words and bytes of files in the workspace.",
    )

    @server.tool(annotations=read_only("Word count"))
    async def word_count(
        path: Annotated[str, Field(description="file to count, relative to the workspace")],
    ) -> Annotated[CallToolResult, WordCount]:
        """Count the lines, words and bytes of a file (like wc)."""
        try:
            real = cfg.workspace.resolve(path, must_exist=True)
        except WorkspaceError as exc:
            raise ToolError(str(exc)) from None
        if not real.is_file():
            raise ToolError(f"{path} is not a file; pass a file inside the workspace")
        if real.stat().st_size > MAX_BYTES:
            raise ToolError(f"{path} is larger than {MAX_BYTES // 2**20} MB")
        lines, words, size = await anyio.to_thread.run_sync(count_words, real)
        result = WordCount(path=path, lines=lines, words=words, bytes=size)
        return tool_result(result, f"{path}: {lines} lines, {words} words, {size} bytes")

    return server
'''

MAIN = '''\
"""The command line: stdio by default, streamable HTTP with ``--http``."""

from __future__ import annotations

from collections.abc import Sequence

from servers.common.runner import run_server

from ${package}.server import Settings, create_server


def main(argv: Sequence[str] | None = None) -> None:
    run_server(
        "${name}",
        "MCP server: ${name}.",
        lambda _args, workspace: create_server(Settings(workspace=workspace)),
        argv=argv,
    )


if __name__ == "__main__":
    main()
'''

CONFTEST = """\
import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
"""

TEST = '''\
"""The server's tests, written with toolwire's testing kit (``agent.testing``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from agent.testing import call, connect, run_agent, tool_name
from servers.common.workspace import Workspace

from ${package}.server import Settings, count_words, create_server

pytestmark = pytest.mark.anyio
SERVER = "${name}"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "poem.txt").write_text("roses are red\\nviolets are blue\\n")
    return tmp_path


def test_count_words(workspace: Path) -> None:
    assert count_words(workspace / "poem.txt") == (2, 6, 31)


async def test_word_count_in_process(workspace: Path) -> None:
    server = create_server(Settings(workspace=Workspace.from_paths([workspace])))
    async with connect(server) as tools:
        result = (await tools.call("word_count", path="poem.txt")).ok()
    assert result.data == {"path": "poem.txt", "lines": 2, "words": 6, "bytes": 31}
    assert "2 lines" in result.text


async def test_paths_outside_the_workspace_are_refused(workspace: Path) -> None:
    server = create_server(Settings(workspace=Workspace.from_paths([workspace])))
    async with connect(server) as tools:
        result = await tools.call("word_count", path="/etc/hostname")
    assert result.is_error and "outside the workspace" in result.text


async def test_runs_as_a_stdio_server(workspace: Path) -> None:
    command = [sys.executable, "-m", create_server.__module__.split(".")[0]]
    command += ["--root", str(workspace)]
    async with connect(command) as tools:
        assert await tools.tool_names() == ["word_count"]
        result = (await tools.call("word_count", path="poem.txt")).ok()
    assert result.data["words"] == 6


async def test_inside_the_agent_loop(workspace: Path) -> None:
    """The real agent loop and hub; the scripted model server plays the model."""
    word_count = tool_name(SERVER, "word_count")  # the name the model sees
    server = create_server(Settings(workspace=Workspace.from_paths([workspace])))
    run = await run_agent(
        "How long is poem.txt?",
        script=[[call(word_count, path="poem.txt")], ["It has 2 lines and 6 words."]],
        servers={SERVER: server},
        workspace=workspace,
    )
    assert run.status == "completed", run.result.error
    assert "2 lines, 6 words" in run.output_of(word_count)
    assert run.final_text == "It has 2 lines and 6 words."
'''


__all__ = ["Names", "ScaffoldError", "render", "write_project"]
