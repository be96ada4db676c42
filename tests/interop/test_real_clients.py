"""The snippets in examples/clients/ read by the real clients (opt-in: TOOLWIRE_REAL_CLIENTS=1).

Claude Code's ``claude mcp list`` starts every project server from ``.mcp.json`` and reports
whether it connected; Codex's ``codex mcp list --json`` shows how it read ``config.toml``. Both
come from npm (pinned; large downloads) and run with a scratch HOME and their non-essential
network traffic switched off. Not part of ``make test`` or CI: they are third-party programs
that may want the network beyond the package registry.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import anyio
import pytest

from agent.testing.node import (
    Finished,
    NodeRuntime,
    NodeUnavailableError,
    find_node,
    run_bounded,
)
from tests.interop.test_client_snippets import BIN, SERVERS, snippet

CLAUDE = "@anthropic-ai/claude-code@2.1.329"
CODEX = "@openai/codex@0.169.0"

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("TOOLWIRE_REAL_CLIENTS") != "1",
        reason="runs third-party agents from npm: set TOOLWIRE_REAL_CLIENTS=1",
    ),
    pytest.mark.timeout(600),
]

QUIET = {
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "npm_config_cache": str(Path.home() / ".npm"),  # HOME changes below; keep npm's cache
}


@pytest.fixture(scope="module")
def node() -> NodeRuntime:
    try:
        return find_node()
    except NodeUnavailableError as exc:
        pytest.skip(str(exc))


def run(node: NodeRuntime, package: str, args: list[str], cwd: Path, env: dict[str, str]) -> str:
    argv = node.npx_command(package, *args)
    done = anyio.run(_run, argv, node.env({**QUIET, **env}), cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def _run(argv: list[str], env: dict[str, str], cwd: Path) -> Finished:
    return await run_bounded(argv, env=env, cwd=cwd, time_limit=540)


def test_claude_code_connects_to_every_server(node: NodeRuntime, tmp_path: Path) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".mcp.json").write_text(snippet("claude-code.mcp.json"), encoding="utf-8")
    # what answering "trust this folder" and "use the project's servers" records
    trusted = {"hasTrustDialogAccepted": True, "enabledMcpjsonServers": SERVERS}
    (home / ".claude.json").write_text(json.dumps({"projects": {str(project): trusted}}))
    out = run(node, CLAUDE, ["mcp", "list"], project, {"HOME": str(home)})
    for server in SERVERS:
        line = next(line for line in out.splitlines() if line.startswith(f"{server}:"))
        assert f"{BIN}/{server} --root ." in line and "Connected" in line, out


def test_codex_reads_both_configs(node: NodeRuntime, tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    for name, kind in (
        ("codex.config.toml", "stdio"),
        ("codex-http.config.toml", "streamable_http"),
    ):
        (home / "config.toml").write_text(snippet(name), encoding="utf-8")
        listed = json.loads(
            run(node, CODEX, ["mcp", "list", "--json"], tmp_path, {"CODEX_HOME": str(home)})
        )
        assert sorted(s["name"] for s in listed) == sorted(SERVERS)
        for server in listed:
            assert server["enabled"] and server["transport"]["type"] == kind
            if kind == "stdio":
                assert server["transport"]["command"] == f"{BIN}/{server['name']}"
            else:
                assert server["transport"]["bearer_token_env_var"] == "TOOLWIRE_TOKEN"
        shell = next(s for s in listed if s["name"] == "toolwire-shell")
        assert shell["tool_timeout_sec"] == 600
