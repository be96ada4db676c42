"""The bundled servers, by name. The hub's defaults and the schema snapshots both read this.

Each entry names a package exposing ``create_server(settings)`` and a settings class whose only
required field is ``workspace``; ``build(name, workspace)`` makes a server with defaults.
"""

from __future__ import annotations

import importlib
from typing import Any

from mcp.server.mcpserver import MCPServer

from servers.common.workspace import Workspace

BUNDLED: dict[str, str] = {
    "files": "servers.files:FilesSettings",
    "patch": "servers.patch:PatchSettings",
    "plan": "servers.plan:PlanSettings",
    "search": "servers.search:SearchSettings",
    "shell": "servers.shell:ShellSettings",
}
"""Server name -> ``package:SettingsClass``. Console script is ``toolwire-<name>``."""


def build(name: str, workspace: Workspace, **settings: Any) -> MCPServer[Any]:
    """Create bundled server ``name`` in-process with default settings (plus overrides)."""
    module_name, _, settings_class = BUNDLED[name].partition(":")
    module = importlib.import_module(module_name)
    config = getattr(module, settings_class)(workspace=workspace, **settings)
    server: MCPServer[Any] = module.create_server(config)
    return server
