"""Load a tool server from what an author has at hand: a file, a package directory, a module.

``load_server(target, workspace)`` accepts

* ``path/to/server.py`` or ``path/to/package/`` (imported as part of its package when it has
  ``__init__.py`` files above it, so relative imports work);
* ``package.module`` or ``package.module:attribute``;

and finds the server in it: the named attribute, else ``create_server``, ``server``, ``mcp`` or
``app``, else the same names in the package's ``server`` submodule (the toolwire layout). The
attribute may be an ``MCPServer`` or a factory taking nothing, a :class:`Workspace`, or a
settings class whose only required field is ``workspace`` (the toolwire convention), which is
built with the given workspace.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mcp.server.mcpserver import MCPServer

from servers.common.workspace import Workspace

CANDIDATES = ("create_server", "server", "mcp", "app")


class TargetError(ValueError):
    """The target could not be found or holds no server; the message says what was tried."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a server lives: the module to import, the attribute (if named), what to watch."""

    module: str
    attribute: str | None
    import_root: Path | None
    """Directory to put on ``sys.path`` first (a file or directory target), else ``None``."""
    watch: Path
    """The directory whose changes mean the server must restart."""


def resolve_target(text: str, cwd: Path | None = None) -> Target:
    """Work out the module, attribute and watch directory of ``text`` without importing it."""
    base = cwd or Path.cwd()
    spec_text, _, attribute = text.partition(":") if not _is_windows_drive(text) else (text, "", "")
    candidate = (base / spec_text).resolve()
    if spec_text.endswith(".py") or candidate.is_dir() or "/" in spec_text:
        if not candidate.exists():
            raise TargetError(f"{spec_text}: no such file or directory")
        return _path_target(candidate, attribute or None)
    try:
        found = importlib.util.find_spec(spec_text)
    except (ImportError, ValueError) as exc:
        raise TargetError(f"cannot find module {spec_text!r}: {exc}") from None
    if found is None:
        raise TargetError(f"no module named {spec_text!r} (and no file {candidate})")
    if found.submodule_search_locations:
        watch = Path(next(iter(found.submodule_search_locations)))
    elif found.origin:
        watch = Path(found.origin).parent
    else:
        watch = base
    return Target(spec_text, attribute or None, None, _package_root(watch))


def _is_windows_drive(text: str) -> bool:
    return len(text) > 2 and text[1] == ":" and text[2] in "\\/"


def _path_target(path: Path, attribute: str | None) -> Target:
    directory = path if path.is_dir() else path.parent
    parts = [] if path.is_dir() else ([] if path.stem == "__init__" else [path.stem])
    # Climb while the directory is a package, so "pkg/server.py" imports as "pkg.server".
    while (directory / "__init__.py").exists():
        parts.insert(0, directory.name)
        directory = directory.parent
    if not parts:
        raise TargetError(f"{path}: not a Python file, and not a package (no __init__.py)")
    top = directory / parts[0]
    return Target(".".join(parts), attribute, directory, top if top.is_dir() else path.parent)


def _package_root(path: Path) -> Path:
    while (path.parent / "__init__.py").exists():
        path = path.parent
    return path


def import_target(target: Target) -> ModuleType:
    if target.import_root is not None and str(target.import_root) not in sys.path:
        sys.path.insert(0, str(target.import_root))
    return importlib.import_module(target.module)


def find_factory(module: ModuleType, attribute: str | None) -> Any:
    if attribute:
        value: Any = module
        for part in attribute.split("."):
            if not hasattr(value, part):
                raise TargetError(f"{module.__name__} has no attribute {attribute!r}")
            value = getattr(value, part)
        return value
    for name in CANDIDATES:
        if hasattr(module, name):
            return getattr(module, name)
    if hasattr(module, "__path__"):  # a package: look in its server module
        try:
            submodule = importlib.import_module(f"{module.__name__}.server")
        except ModuleNotFoundError:
            submodule = None
        if submodule is not None:
            for name in CANDIDATES:
                if hasattr(submodule, name):
                    return getattr(submodule, name)
    raise TargetError(
        f"{module.__name__} defines none of {', '.join(CANDIDATES)} (nor its .server module); "
        "name the server with MODULE:ATTRIBUTE"
    )


def build(factory: Any, workspace: Workspace) -> MCPServer[Any]:
    """An ``MCPServer`` from an instance or a factory (see the module docstring)."""
    if isinstance(factory, MCPServer):
        return factory
    if not callable(factory):
        raise TargetError(f"{factory!r} is neither an MCPServer nor a factory")
    required = [
        p
        for p in inspect.signature(factory).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not required:
        server = factory()
    elif len(required) == 1:
        server = factory(_argument_for(factory, required[0], workspace))
    else:
        raise TargetError(f"{factory.__qualname__} needs {len(required)} arguments; give it one")
    if not isinstance(server, MCPServer):
        raise TargetError(f"{factory.__qualname__}() returned {type(server).__name__}")
    return server


def _argument_for(factory: Any, parameter: inspect.Parameter, workspace: Workspace) -> Any:
    try:
        hints = typing.get_type_hints(factory)
    except Exception:
        hints = {}
    kind = hints.get(parameter.name)
    options = typing.get_args(kind) or (kind,)
    for option in options:
        if option is Workspace:
            return workspace
        if isinstance(option, type) and _accepts_workspace(option):
            return option(workspace=workspace)
    raise TargetError(
        f"cannot build {parameter.name!r} for {factory.__qualname__}: annotate it with a "
        "settings class whose only required field is 'workspace', or with Workspace"
    )


def _accepts_workspace(cls: type) -> bool:
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    required = {n for n, p in parameters.items() if p.default is inspect.Parameter.empty}
    return "workspace" in parameters and required <= {"workspace"}


def load_server(text: str, workspace: Workspace, cwd: Path | None = None) -> MCPServer[Any]:
    """Import ``text`` (a file, directory or module) and build its server."""
    target = resolve_target(text, cwd)
    return build(find_factory(import_target(target), target.attribute), workspace)


__all__ = ["Target", "TargetError", "build", "find_factory", "load_server", "resolve_target"]
