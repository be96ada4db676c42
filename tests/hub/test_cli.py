"""``toolwire tools`` and ``toolwire servers``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from tests.hub.conftest import server_toml


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # keep the user's cache clean
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "toolwire.toml").write_text(
        server_toml("demo")
        + '[servers.broken]\ncommand = "no-such-command-toolwire"\n'
        + "".join(f"[servers.{n}]\nenabled = false\n" for n in ("files", "search", "shell"))
        + "[servers.patch]\nenabled = false\n[servers.plan]\nenabled = false\n"
    )
    return ws


def test_servers_reports_each_server_and_fails_when_one_did(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["servers", "-C", str(workspace), "--no-user-config", "--json"])
    assert code == 1
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["demo"]["status"] == "ready" and rows["demo"]["tools"] > 5
    assert rows["broken"]["status"] == "failed"
    assert rows["broken"]["error"] == "command not found: no-such-command-toolwire"
    assert rows["files"]["status"] == "disabled"


def test_tools_lists_the_mapping_and_the_exact_tools_array(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["tools", "-C", str(workspace), "--no-user-config", "-c", "servers.broken.enabled=false"]
    assert main([*args, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    echo = next(r for r in records if r["tool"] == "echo")
    assert echo == {
        "name": "demo__echo",
        "server": "demo",
        "tool": "echo",
        "bundled": False,
        "annotations": {},
        "strict": True,
        "not_strict_because": None,
    }
    open_args = next(r for r in records if r["tool"] == "open_args")
    assert "additional properties" in open_args["not_strict_because"]
    assert main([*args, "--schema"]) == 0
    tools = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in tools] == [r["name"] for r in records]
    assert main(args) == 0
    assert "demo__echo" in capsys.readouterr().out


def test_a_broken_config_exits_2_naming_the_file(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "toolwire.toml").write_text("[servers.x]\ncomand = 1\n")
    assert main(["servers", "-C", str(workspace), "--no-user-config"]) == 2
    err = capsys.readouterr().err
    assert f"{workspace / 'toolwire.toml'}: servers.x.comand: unknown key" in err
