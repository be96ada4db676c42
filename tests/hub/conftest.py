"""Helpers for hub tests: settings that run the purpose-built servers in tests/hub/servers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio

from agent.config import Settings, load_settings

MISBEHAVE = Path(__file__).resolve().parent / "servers" / "misbehave.py"


def toml_value(value: Any) -> str:
    """A TOML literal for simple values (JSON strings, numbers, lists and booleans are TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def server_toml(name: str, *args: str, **keys: Any) -> str:
    """A ``[servers.NAME]`` table running the misbehaving server with ``args``."""
    lines = [
        f'[servers."{name}"]',
        f"command = {toml_value(sys.executable)}",
        f"args = {toml_value([str(MISBEHAVE), *args])}",
    ]
    lines += [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def make_settings(tmp_path: Path, toml: str = "", **kwargs: Any) -> Settings:
    """Settings for a fresh workspace under ``tmp_path`` with ``toml`` as its toolwire.toml;
    no user config, no entry points, no bundled servers unless asked, a private cache."""
    workspace = tmp_path / "ws"
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "toolwire.toml").write_text(toml)
    options: dict[str, Any] = {
        "user_config": None,
        "entry_points": False,
        "bundled": (),
        "cache_dir": tmp_path / "cache",
    }
    options.update(kwargs)
    return load_settings(workspace, **options)


async def wait_for_lines(path: Path, text: str, count: int = 1, limit: float = 20) -> list[str]:
    """Poll ``path`` until ``text`` appears on ``count`` lines; return all lines."""
    with anyio.fail_after(limit):
        while True:
            lines = path.read_text().splitlines() if path.exists() else []
            if lines.count(text) >= count:
                return lines
            await anyio.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes: it is waiting to be reaped by its parent.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"


async def wait_dead(pid: int, limit: float = 10) -> bool:
    with anyio.move_on_after(limit):
        while alive(pid):
            await anyio.sleep(0.05)
    return not alive(pid)
