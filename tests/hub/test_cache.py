from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp_types import Tool

from agent.config import load_settings
from agent.hub.cache import SchemaCache, fingerprint, key_digest
from agent.hub.spec import StdioLaunch, resolve

TOOL = Tool(name="t", input_schema={"type": "object", "properties": {}})


def test_store_then_load_and_old_entries_are_dropped(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    cache.store("srv", "a" * 24, [TOOL])
    assert cache.load("srv", "a" * 24) == [TOOL]
    cache.store("srv", "b" * 24, [TOOL])
    assert cache.load("srv", "a" * 24) is None
    assert [p.name for p in cache.directory.iterdir()] == [f"srv-{'b' * 24}.json"]
    for other in ("srv-2", "srv/2", "srv_2"):  # names that share a prefix or sanitize alike
        cache.store(other, "c" * 24, [TOOL])
    assert cache.load("srv", "b" * 24) == [TOOL]
    assert all(cache.load(o, "c" * 24) == [TOOL] for o in ("srv-2", "srv/2", "srv_2"))


def test_unreadable_entries_are_misses(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    cache.directory.mkdir(parents=True)
    (cache.directory / f"srv-{'a' * 24}.json").write_text("{not json")
    assert cache.load("srv", "a" * 24) is None
    (cache.directory / f"srv-{'a' * 24}.json").write_text('{"format": 99, "tools": []}')
    assert cache.load("srv", "a" * 24) is None


def test_a_local_script_changing_changes_the_key(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text("print('v1')\n")
    (tmp_path / "toolwire.toml").write_text(
        f'[servers.s]\ncommand = "{sys.executable}"\nargs = ["server.py", "--flag"]\n'
    )
    settings = load_settings(tmp_path, user_config=None, entry_points=False, bundled=())
    config = settings.server("s")
    launch = resolve(config, tmp_path)
    assert isinstance(launch, StdioLaunch)
    before = fingerprint(config, launch)
    assert before is not None
    assert key_digest(before) == key_digest(fingerprint(config, launch) or {})
    script.write_text("print('version two')\n")
    os.utime(script, ns=(1, 1))
    after = fingerprint(config, launch)
    assert after is not None and key_digest(after) != key_digest(before)


def test_bundled_keys_follow_the_source_files(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, user_config=None, entry_points=False, bundled=("plan",))
    config = settings.server("plan")
    key = fingerprint(config, resolve(config, tmp_path))
    assert key is not None
    stamped = {Path(entry[0]).name for entry in key["files"]}
    assert {"server.py", "workspace.py"} <= stamped  # servers/plan and servers/common
