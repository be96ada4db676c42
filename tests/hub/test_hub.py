"""The hub against real servers: the purpose-built misbehaving one (stdio and HTTP)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import anyio
import pytest

from agent.hub import ERROR_PREFIX, Hub, HubStartError, as_text
from schemas.responses import TOOL_NAME_PATTERN, FunctionCall
from tests.hub.conftest import (
    MISBEHAVE,
    make_settings,
    server_toml,
    wait_dead,
    wait_for_lines,
)
from tests.hub.servers.misbehave import LONG_NAME
from tests.support import http_server

pytestmark = pytest.mark.anyio

EXPECTED_TOOLS = {
    "add_tool",
    "crash",
    "echo",
    "fail",
    "huge",
    "image",
    "noop",
    "open_args",
    "optional_args",
    "reading",
    "sleep",
    "structured",
    LONG_NAME,
}


def text(item: object) -> str:
    return as_text(item["output"])  # type: ignore[index]


async def test_routing_against_a_stdio_server(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    pid_file = tmp_path / "pid"
    toml = server_toml(
        "misbehave", "--page-size", "3", "--marker", str(marker), "--pid-file", str(pid_file)
    )
    settings = make_settings(tmp_path, toml + "[hub]\nmax_output_bytes = 20000\n")
    async with Hub.start(settings) as hub:
        # tools/list came in pages of three; every tool is there, prefixed with the server
        originals = {e.original for e in hub.entries}
        assert originals == EXPECTED_TOOLS
        assert all(TOOL_NAME_PATTERN.match(t["name"]) for t in hub.tools)
        assert json.loads(hub.tools_json) == hub.tools

        assert await hub.call("misbehave__echo", '{"text": "hi"}', "c1") == {
            "type": "function_call_output",
            "call_id": "c1",
            "output": "hi",
        }
        assert text(await hub.call("misbehave__structured", "", "c")) == (
            '{"answer":42,"unit":"ä"}'
        )
        parts = (await hub.call("misbehave__image", "{}", "c"))["output"]
        assert [p["type"] for p in parts] == ["input_text", "input_image", "input_text"]

        failed = await hub.call_detailed("misbehave__fail", "{}", "c")
        assert failed.is_error
        assert text(failed.item).startswith(ERROR_PREFIX)
        assert text(failed.item).endswith("the frobnicator is out of order")

        # what the model can get wrong comes back as a readable error, never an exception
        bad_json = text(await hub.call("misbehave__echo", '{"text": "hi"', "c"))
        assert bad_json.startswith(ERROR_PREFIX) and "not valid JSON" in bad_json
        assert "line 1 column" in bad_json
        not_object = text(await hub.call("misbehave__echo", "[1]", "c"))
        assert "must be a JSON object, not a list" in not_object
        unknown = text(await hub.call("misbehave__ecko", "{}", "c"))
        assert unknown.startswith(ERROR_PREFIX) and "did you mean misbehave__echo" in unknown
        invalid = text(await hub.call("misbehave__echo", '{"txt": 1}', "c"))
        assert invalid.startswith(ERROR_PREFIX)

        huge = text(await hub.call("misbehave__huge", '{"size": 3000000}', "c"))
        assert len(huge.encode()) < 20000 + 500
        assert huge.startswith("00000000 ") and "omitted" in huge

        # strict schema: the model sends null for "not given", the server sees its defaults
        optional = hub.entry("misbehave__optional_args")
        assert optional is not None and optional.strict
        nulls = {"path": "p", "depth": None, "note_text": None, "item": None, "items": None}
        got = json.loads(
            text(await hub.call(optional.name, json.dumps({**nulls, "mode": None}), "c"))
        )
        assert got == {
            "path": "p",
            "depth": 2,
            "note_text": None,
            "item": None,
            "items": None,
            "mode": "fast",
        }
        nested = {**nulls, "item": {"name": "n", "count": None}, "mode": "slow"}
        got = json.loads(text(await hub.call(optional.name, json.dumps(nested), "c")))
        assert got["item"] == {"name": "n", "count": 1} and got["mode"] == "slow"
        open_args = hub.entry("misbehave__open_args")
        assert open_args is not None and not open_args.strict
        assert open_args.function["parameters"] == open_args.input_schema

        long = next(e for e in hub.entries if e.original == LONG_NAME)
        assert len(long.name) == 64 and long.name != f"misbehave__{LONG_NAME}"
        assert text(await hub.call(long.name, "{}", "c")) == "long"

        # parallel calls run concurrently and come back in call order
        calls: list[FunctionCall] = [
            {
                "type": "function_call",
                "call_id": f"p{n}",
                "name": "misbehave__sleep",
                "arguments": '{"seconds": 1}',
            }
            for n in range(3)
        ]
        outputs = await hub.call_many(calls)
        assert [o["call_id"] for o in outputs] == ["p0", "p1", "p2"]
        assert [o["output"] for o in outputs] == ["slept"] * 3
        lines = marker.read_text().splitlines()
        assert lines == ["started"] * 3 + ["finished"] * 3
        pid = int(pid_file.read_text())
    assert await wait_dead(pid), "the server outlived the hub"


async def test_timeouts_and_cancellation_reach_the_server(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    toml = server_toml("slow", "--marker", str(marker), tool_timeout_sec=1)
    async with Hub.start(make_settings(tmp_path, toml)) as hub:
        timed_out = text(await hub.call("slow__sleep", '{"seconds": 60}', "c"))
        assert timed_out.startswith(ERROR_PREFIX)
        assert "did not finish within 1 s" in timed_out
        await wait_for_lines(marker, "cancelled")

        async with anyio.create_task_group() as tg:
            tg.start_soon(hub.call, "slow__sleep", '{"seconds": 0.9}', "c")
            await wait_for_lines(marker, "started", count=2)
            tg.cancel_scope.cancel()
        await wait_for_lines(marker, "cancelled", count=2)
        # the server is still fine afterwards
        assert text(await hub.call("slow__echo", '{"text": "still here"}', "c")) == "still here"


async def test_a_crash_mid_call_is_reported_and_the_server_restarts(tmp_path: Path) -> None:
    async with Hub.start(make_settings(tmp_path, server_toml("fragile"))) as hub:
        crashed = text(await hub.call("fragile__crash", "{}", "c"))
        assert crashed.startswith(ERROR_PREFIX)
        assert "exited with code 7 during crash" in crashed
        assert "about to crash: simulated failure" in crashed
        assert "restarted on the next call" in crashed
        assert text(await hub.call("fragile__echo", '{"text": "back"}', "c")) == "back"
        (status,) = hub.servers
        assert status.status == "ready" and status.restarts == 1


async def test_failure_warning_quotes_the_servers_last_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent.hub.connection"):
        async with Hub.start(make_settings(tmp_path, server_toml("dies", "--mode", "exit"))):
            pass
    warnings = [r.getMessage() for r in caplog.records if "server dies failed" in r.getMessage()]
    assert warnings == [
        "server dies failed: exited with code 3 while starting "
        "(stderr: fatal: configuration file missing)"
    ]


async def test_failing_servers_are_reported_and_the_rest_work(tmp_path: Path) -> None:
    hang_pid = tmp_path / "hang.pid"
    toml = (
        server_toml("good")
        + server_toml("noisy", "--mode", "noisy")
        + server_toml("hang", "--mode", "hang", "--pid-file", str(hang_pid), startup_timeout_sec=2)
        + server_toml("dies", "--mode", "exit")
        + server_toml("garbage", "--mode", "garbage", startup_timeout_sec=2)
        + '[servers.missing]\ncommand = "no-such-command-toolwire"\n'
    )
    async with Hub.start(make_settings(tmp_path, toml)) as hub:
        status = {s.name: s for s in hub.servers}
        assert status["good"].status == "ready" and status["noisy"].status == "ready"
        assert status["hang"].status == "failed"
        assert status["hang"].error == "did not finish starting within 2 s (startup_timeout_sec)"
        assert status["dies"].status == "failed"
        assert status["dies"].error == "exited with code 3 while starting"
        assert "fatal: configuration file missing" in status["dies"].stderr
        assert status["garbage"].status == "failed"
        assert "not JSON-RPC" in (status["garbage"].error or "")
        assert "Welcome to the misbehaving server!" in (status["garbage"].error or "")
        assert status["missing"].error == "command not found: no-such-command-toolwire"

        assert {e.server for e in hub.entries} == {"good", "noisy"}
        assert text(await hub.call("noisy__echo", '{"text": "ok"}', "c")) == "ok"
        gone = text(await hub.call("dies__echo", "{}", "c"))
        assert gone == (
            f"{ERROR_PREFIX}dies__echo belongs to server 'dies', which is not available: "
            "exited with code 3 while starting"
        )
        unknown = text(await hub.call("nothing", "{}", "c"))
        assert "(servers not available: dies, garbage, hang, missing)" in unknown
        pid = int(hang_pid.read_text())
    assert await wait_dead(pid), "a server that never answered was left running"


async def test_a_required_server_that_fails_fails_the_start(tmp_path: Path) -> None:
    toml = server_toml("vital", "--mode", "exit", required=True)
    with pytest.raises(HubStartError, match="required server 'vital' failed: exited with code 3"):
        async with Hub.start(make_settings(tmp_path, toml)):
            pass


@pytest.mark.parametrize(("flags", "protocol"), [((), "2026-07-28"), (("--legacy",), "2025-11-25")])
async def test_tool_list_changes_are_picked_up(
    tmp_path: Path, flags: tuple[str, ...], protocol: str
) -> None:
    """Through a subscriptions/listen stream (2026-07-28) or a list_changed notification."""
    async with Hub.start(make_settings(tmp_path, server_toml("dyn", *flags))) as hub:
        assert hub.servers[0].protocol == protocol
        revision, before = hub.revision, hub.tools_json
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(hub.wait_changed)
                await hub.call("dyn__add_tool", '{"name": "fresh"}', "c")
        assert hub.revision == revision + 1 and hub.tools_json != before
        assert hub.entry("dyn__fresh") is not None
        assert text(await hub.call("dyn__fresh", "{}", "c")) == "I am fresh"


async def test_streamable_http_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLWIRE_TEST_NO_TOKEN", raising=False)
    async with http_server("tests.hub.servers.misbehave") as url:
        toml = (
            f'[servers.web]\nurl = "{url}"\nhttp_headers = {{ "X-Test" = "1" }}\n'
            f'[servers.locked]\nurl = "{url}"\nbearer_token_env_var = "TOOLWIRE_TEST_NO_TOKEN"\n'
        )
        async with Hub.start(make_settings(tmp_path, toml)) as hub:
            status = {s.name: s for s in hub.servers}
            assert status["web"].status == "ready" and status["web"].transport == "http"
            assert status["locked"].status == "failed"
            assert "TOOLWIRE_TEST_NO_TOKEN, which is not set" in (status["locked"].error or "")
            assert text(await hub.call("web__echo", '{"text": "over http"}', "c")) == "over http"
            failed = text(await hub.call("web__fail", "{}", "c"))
            assert failed.startswith(ERROR_PREFIX) and "frobnicator is out of order" in failed


async def test_configs_written_by_codex_and_claude_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Codex ``[mcp_servers]`` table and a Claude Code ``.mcp.json``, as those tools write
    them; the two server names also collide once sanitized ("a.b" and "a_b")."""
    monkeypatch.setenv("TOOLWIRE_TEST_PY", sys.executable)
    codex = (
        'model = "gpt-5-codex"\n\n'
        '[mcp_servers."a_b"]\n'
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(MISBEHAVE))}]\n"
        "startup_timeout_sec = 20\n\n"
        '[mcp_servers."a_b".env]\nSOMETHING = "1"\n'
    )
    settings_dir = tmp_path / "ws"
    settings_dir.mkdir()
    claude = {
        "mcpServers": {
            "a.b": {
                "type": "stdio",
                "command": "${TOOLWIRE_TEST_PY}",
                "args": [str(MISBEHAVE), "--marker", "${workspaceFolder}/m"],
                "env": {"MODE": "${TOOLWIRE_TEST_MODE:-serve}"},
            }
        }
    }
    (settings_dir / ".mcp.json").write_text(json.dumps(claude, indent=2))
    async with Hub.start(make_settings(tmp_path, codex)) as hub:
        assert {s.name: s.status for s in hub.servers} == {"a.b": "ready", "a_b": "ready"}
        echoes = [e for e in hub.entries if e.original == "echo"]
        assert len({e.name for e in echoes}) == 2
        assert all(e.name.startswith("a_b__echo_") for e in echoes)
        for entry in echoes:
            assert text(await hub.call(entry.name, '{"text": "x"}', "c")) == "x"
        sleep = next(e for e in hub.entries if e.server == "a.b" and e.original == "sleep")
        await hub.call(sleep.name, '{"seconds": 0}', "c")
        assert (settings_dir / "m").read_text() == "started\nfinished\n"
