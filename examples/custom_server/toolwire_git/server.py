"""git_log and git_blame: a read-only view of a repository's history, as an MCP tool server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from servers.common.annotations import read_only
from servers.common.limits import clip
from servers.common.results import ToolError, tool_result
from servers.common.server import new_server
from servers.common.workspace import Workspace, WorkspaceError


class GitOutput(BaseModel):
    args: list[str] = Field(description="the git command that ran, without 'git'")
    output: str = Field(description="what it printed; the middle is cut when it is long")


@dataclass(frozen=True, slots=True)
class GitSettings:
    workspace: Workspace
    timeout_sec: float = 20.0
    max_bytes: int = 32 * 1024


def create_server(settings: GitSettings | None = None) -> MCPServer[Any]:
    """The server; with no settings it serves the current directory (how entry points call it)."""
    cfg = settings or GitSettings(Workspace.from_paths())
    server = new_server("git", "Read the repository's history: commits, and who changed a line.")

    async def git(*args: str) -> CallToolResult:
        argv = ["git", "--no-pager", *args]
        try:
            with anyio.fail_after(cfg.timeout_sec):  # on timeout the git process is killed
                done = await anyio.run_process(argv, cwd=cfg.workspace.root, check=False)
        except TimeoutError:
            raise ToolError(f"git {args[0]} took over {cfg.timeout_sec:g}s; narrow it") from None
        if done.returncode != 0:
            raise ToolError(done.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
        text = clip(done.stdout.decode(errors="replace").rstrip(), max_bytes=cfg.max_bytes).text
        return tool_result(GitOutput(args=list(args), output=text), text or "(no output)")

    def inside(path: str) -> str:
        try:
            return str(cfg.workspace.resolve(path, must_exist=True))
        except WorkspaceError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=read_only("Git log"))
    async def git_log(
        path: Annotated[str, Field(description="file or directory whose history to show")] = ".",
        limit: Annotated[int, Field(ge=1, le=200, description="most commits to list")] = 20,
    ) -> Annotated[CallToolResult, GitOutput]:
        """Commits that touched path, newest first: short hash, date, author and subject."""
        fmt = "--format=%h %ad %an: %s"
        return await git("log", f"-n{limit}", "--date=short", fmt, "--", inside(path))

    @server.tool(annotations=read_only("Git blame"))
    async def git_blame(
        path: Annotated[str, Field(description="file to annotate")],
        start: Annotated[int, Field(ge=1, description="first line (1-indexed)")] = 1,
        end: Annotated[int | None, Field(ge=1, description="last line; none: to the end")] = None,
    ) -> Annotated[CallToolResult, GitOutput]:
        """Who last changed each line of a file, with the commit and date."""
        lines = f"-L{start},{end or ''}"
        return await git("blame", "--date=short", lines, "--", inside(path))

    return server
