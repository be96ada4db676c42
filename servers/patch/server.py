"""The patch server: one tool, ``apply_patch``, named and shaped like Codex's."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from schemas.patch import ApplyPatchResult
from servers.common.annotations import state_change
from servers.common.results import ToolError, tool_result
from servers.common.server import new_server
from servers.common.workspace import Workspace
from servers.patch.apply import recover
from servers.patch.engine import (
    MAX_DIFF_BYTES,
    default_journal_dir,
    render_result,
    run_patch,
)
from servers.patch.model import PatchError
from servers.patch.plan import MAX_FILE_BYTES

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PatchSettings:
    workspace: Workspace
    journal_dir: Path | None = None
    """Where in-flight patches are journaled (default: the user state directory)."""
    durable: bool = False
    """fsync files, directories and the journal before reporting success, so that a patch also
    survives power loss. Off by default: atomicity against a killed process needs no fsync, and
    100 fsyncs cost more than the rest of a 100-file patch (git apply does not fsync either)."""
    max_diff_bytes: int = MAX_DIFF_BYTES
    max_file_bytes: int = MAX_FILE_BYTES


def create_server(settings: PatchSettings) -> MCPServer[Any]:
    journal_dir = settings.journal_dir or default_journal_dir()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        # A previous server killed mid-patch left a journal: finish or undo that patch now.
        # (Should that fail, every apply_patch call retries it and reports why.)
        try:
            await anyio.to_thread.run_sync(recover, journal_dir, settings.workspace.contains)
        except OSError as exc:
            logger.warning("could not recover interrupted patches in %s: %s", journal_dir, exc)
        yield

    server = new_server(
        "patch",
        "Edit files inside the workspace roots with apply_patch: "
        + settings.workspace.describe_roots(),
        lifespan=lifespan,
    )

    @server.tool(annotations=state_change("Apply patch", destructive=True, idempotent=False))
    async def apply_patch(
        input: Annotated[
            str,
            Field(
                description="the whole patch, from '*** Begin Patch' to '*** End Patch' "
                "(or a unified diff)"
            ),
        ],
        dry_run: Annotated[
            bool, Field(description="check the patch and report what would change; write nothing")
        ] = False,
    ) -> Annotated[CallToolResult, ApplyPatchResult]:
        """Create, edit, move and delete text files with a patch. The patch applies completely
        or not at all: when any part fails, no file is changed and the error shows the lines
        that were expected and the closest lines found, so you can fix the patch and resend it.

        Format:
        *** Begin Patch
        *** Add File: path/new.py
        +every line of the new file, each starting with +
        *** Delete File: path/old.py
        *** Update File: path/edit.py
        *** Move to: path/renamed.py        (optional)
        @@ def function_or_class_line():     (optional: a line just above the change)
         context line (starts with a space)
        -removed line
        +added line
        *** End of File                      (optional: the hunk ends at the end of the file)
        *** End Patch

        Give about 3 lines of context above and below each change, and more (or an @@ line)
        when those lines occur more than once. Hunks of one file go in file order. Paths are
        relative to the workspace root. A unified diff (as printed by `git diff`) is accepted
        too."""
        work = partial(
            run_patch,
            input,
            settings.workspace,
            dry_run=dry_run,
            journal_dir=journal_dir,
            durable=settings.durable,
            max_diff_bytes=settings.max_diff_bytes,
            max_file_bytes=settings.max_file_bytes,
        )
        try:
            result = await anyio.to_thread.run_sync(work)
        except PatchError as exc:
            raise ToolError(str(exc)) from exc
        return tool_result(result, render_result(result))

    return server
