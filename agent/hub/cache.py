"""The on-disk cache of each server's ``tools/list``, which hides server start-up.

The first model request needs the tool schemas, not running servers. Five Python servers take
about a second and a half of CPU to start (``import mcp`` alone is half a second each), so the
hub reads each server's last tool list from here and the first request can go out at once; a
call waits for its server. When the server is up, its live list replaces the cached one (and
rewrites the file if it changed), so a stale entry heals itself after one start.

An entry is keyed by what determines the tools: the command line, the explicit environment,
and the version of the code that runs — the toolwire version plus source-file stamps for bundled
servers (so a development checkout never serves yesterday's schemas), the package version for
entry points, and the stamps of the executable and of any script argument for other commands.
In-process servers are not cached: building one costs a few milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcp_types import Tool
from pydantic import ValidationError

from agent.config import ServerConfig
from agent.hub.spec import HttpLaunch, Launch, StdioLaunch, package_dir
from servers.common.atomic import write_atomic
from servers.common.server import package_version

logger = logging.getLogger(__name__)

FORMAT = 1
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def _stamp(path: Path) -> list[Any] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [str(path), st.st_mtime_ns, st.st_size]


def _tree_stamps(directory: Path) -> list[Any]:
    stamps = []
    for path in sorted(directory.rglob("*.py")):
        stamp = _stamp(path)
        if stamp is not None:
            stamps.append(stamp)
    return stamps


def _venv_site_packages(executable: Path) -> list[Any]:
    """Stamps of the site-packages of the virtualenv ``executable`` lives in, if any.

    Installing or upgrading a package adds or renames a ``*.dist-info`` directory, which
    changes the site-packages directory's mtime: a cheap "something was (re)installed" signal
    for servers run as ``python -m pkg`` or as a console script from a virtualenv.
    """
    venv = executable.parent.parent
    if not (venv / "pyvenv.cfg").is_file():
        return []
    return [s for d in sorted(venv.glob("lib/python*/site-packages")) if (s := _stamp(d))]


def fingerprint(config: ServerConfig, launch: Launch) -> dict[str, Any] | None:
    """What the server's tool list depends on, or None when it is not worth caching."""
    if isinstance(launch, HttpLaunch):
        return {"url": launch.url, "sse": launch.sse, "headers": sorted(launch.headers)}
    if not isinstance(launch, StdioLaunch):
        return None
    key: dict[str, Any] = {
        "argv": list(launch.argv),
        "cwd": str(launch.cwd),
        "env": sorted(launch.fingerprint_env.items()),
    }
    if config.kind == "bundled":
        module = config.module or f"servers.{config.name}"
        directory = package_dir(module)
        key["toolwire"] = package_version()
        if directory is not None:
            key["files"] = _tree_stamps(directory) + _tree_stamps(directory.parent / "common")
        return key
    if config.kind == "entry_point":
        key["distribution"] = config.distribution
        return key
    stamps: list[Any] = []
    executable = shutil.which(launch.argv[0], path=launch.env.get("PATH"))
    if executable is not None:
        exe = Path(executable)
        stamps += [s for s in (_stamp(exe),) if s] + _venv_site_packages(exe)
    for arg in launch.argv[1:]:
        if arg.startswith("-") or len(arg) > 4096:
            continue
        path = launch.cwd / arg
        if path.is_file():
            stamps += [s for s in (_stamp(path),) if s]
    key["files"] = stamps
    return key


def key_digest(key: dict[str, Any]) -> str:
    raw = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


class SchemaCache:
    """One JSON file per server and key under ``<cache dir>/tools``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "tools"

    @staticmethod
    def _stem(server: str) -> str:
        """A file-name-safe form of the server name; names that had to change get a hash, so
        ``a/b`` and ``a_b`` never share (and evict each other's) entries."""
        safe = _UNSAFE.sub("_", server).replace("-", "_")
        if safe != server:
            safe += "." + hashlib.sha256(server.encode()).hexdigest()[:8]
        return safe

    def _path(self, server: str, digest: str) -> Path:
        return self.directory / f"{self._stem(server)}-{digest}.json"

    def load(self, server: str, digest: str) -> list[Tool] | None:
        path = self._path(server, digest)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable schema cache %s: %s", path, exc)
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        try:
            return [Tool.model_validate(t) for t in data.get("tools", [])]
        except ValidationError:
            logger.warning("ignoring schema cache %s: tools do not validate", path)
            return None

    def store(self, server: str, digest: str, tools: Sequence[Tool]) -> None:
        """Write the entry atomically and drop the server's entries for older keys."""
        path = self._path(server, digest)
        payload = {"format": FORMAT, "server": server, "tools": [dump_tool(t) for t in tools]}
        try:
            write_atomic(path, json.dumps(payload, ensure_ascii=False).encode())
            for other in self.directory.glob(f"{self._stem(server)}-*.json"):
                if other != path:
                    other.unlink(missing_ok=True)
        except OSError as exc:  # a read-only home must not stop the agent
            logger.warning("cannot write schema cache %s: %s", path, exc)


def dump_tool(tool: Tool) -> dict[str, Any]:
    data: dict[str, Any] = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def same_tools(a: Sequence[Tool], b: Sequence[Tool]) -> bool:
    return [dump_tool(t) for t in a] == [dump_tool(t) for t in b]


__all__ = ["SchemaCache", "fingerprint", "key_digest", "same_tools"]
