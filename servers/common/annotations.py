"""The MCP tool annotations our servers use, named once so every server describes itself alike.

Clients (and our agent's approval policy) decide what needs a human's yes from these hints.
"""

from __future__ import annotations

from mcp.types import ToolAnnotations


def read_only(title: str) -> ToolAnnotations:
    """Reads the workspace, changes nothing, same answer for the same state."""
    return ToolAnnotations(
        title=title,
        read_only_hint=True,
        destructive_hint=False,
        idempotent_hint=True,
        open_world_hint=False,
    )


def state_change(
    title: str, *, destructive: bool, idempotent: bool, open_world: bool = False
) -> ToolAnnotations:
    """Changes something: files, processes, or the server's own state."""
    return ToolAnnotations(
        title=title,
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )
