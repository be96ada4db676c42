"""The patch server: ``apply_patch`` in the Codex format or as a unified diff, atomically.

``create_server`` and ``PatchSettings`` are imported on first use so that the pure modules
(``parser``, ``matcher``, ``plan``, ``apply``) load without the MCP SDK, which costs about half a
second per process: the crash tests start many short-lived processes that only need ``apply``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servers.patch.server import PatchSettings, create_server

__all__ = ["PatchSettings", "create_server"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from servers.patch import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
