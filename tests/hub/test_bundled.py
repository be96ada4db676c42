"""The hub with the bundled servers: cold start, start from the schema cache, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import BUNDLED_ORDER
from agent.hub import Hub, as_text
from agent.hub.cache import SchemaCache
from servers.registry import BUNDLED
from tests.hub.conftest import make_settings

pytestmark = pytest.mark.anyio


async def test_bundled_servers_cold_then_from_the_cache(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bundled=BUNDLED_ORDER)
    (settings.workspace / "notes.txt").write_text("first line\nsecond line\n")

    async with Hub.start(settings, wait=True) as hub:
        cold = hub.tools_json
        status = {s.name: s for s in hub.servers}
        available = [name for name in BUNDLED_ORDER if status[name].status == "ready"]
        missing = [s for s in status.values() if s.status != "ready"]
        for server in missing:  # a bundled server not installed yet is reported, not fatal
            assert server.status == "failed" and "not installed" in (server.error or "")
        assert "files" in available and "plan" in available
        # bundled tools keep their plain names
        assert {e.name for e in hub.entries} >= {"read_file", "list_dir", "update_plan"}
        assert all(e.name == e.original for e in hub.entries)
        # servers in the fixed bundled order, tools sorted within each
        order = [e.server for e in hub.entries]
        assert order == sorted(order, key=BUNDLED_ORDER.index)
        annotations = hub.annotations("read_file")
        assert annotations is not None and annotations.read_only_hint is True
        read = await hub.call("read_file", '{"path": "notes.txt"}', "c1")
        assert "second line" in as_text(read["output"])

    async with Hub.start(settings) as hub:
        # the schema cache makes the tool list complete before any server is up...
        assert all(s.tools_from == "cache" for s in hub.servers if s.name in available)
        assert any(s.status == "starting" for s in hub.servers)
        assert hub.tools_json == cold
        # ...and a call simply waits for its server
        read = await hub.call("read_file", '{"path": "notes.txt"}', "c2")
        assert "first line" in as_text(read["output"])
        await hub.wait_ready()
        assert hub.tools_json == cold and hub.revision == 1  # live lists equal the cache


async def test_a_changed_server_refreshes_its_stale_cache_entry(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bundled=("plan",))
    async with Hub.start(settings, wait=True) as hub:
        fresh = hub.tools_json
    # Corrupt the cached entry as if the server had changed since it was written.
    cache = SchemaCache(settings.cache_dir)
    (entry,) = list(cache.directory.glob("plan-*.json"))
    entry.write_text(entry.read_text().replace("get_plan", "old_get_plan"))
    async with Hub.start(settings) as hub:
        assert hub.entry("old_get_plan") is not None
        await hub.wait_ready()
        assert hub.tools_json == fresh and hub.entry("old_get_plan") is None
    assert "old_get_plan" not in entry.read_text()


async def test_in_process_bundled_servers(tmp_path: Path) -> None:
    names = ("files", "search", "plan")
    overrides = [f"servers.{n}.transport=inprocess" for n in names]
    inproc = make_settings(tmp_path / "a", bundled=names, overrides=overrides)
    stdio = make_settings(tmp_path / "b", bundled=names)
    async with Hub.start(inproc, wait=True) as hub:
        status = {s.name: s for s in hub.servers}
        for name in names:
            if name in BUNDLED:
                assert status[name].status == "ready" and status[name].transport == "inprocess"
            else:  # not registered for in-process use (yet): reported, the rest still work
                assert status[name].status == "failed"
                assert "not registered" in (status[name].error or "")
        inproc_tools = {e.name: e.function for e in hub.entries}
        out = await hub.call("get_plan", "{}", "c")
        assert not as_text(out["output"]).startswith("ERROR")
    async with Hub.start(stdio, wait=True) as hub:
        stdio_tools = {e.name: e.function for e in hub.entries if e.name in inproc_tools}
    assert stdio_tools == inproc_tools
