"""The git server's own tests, written with toolwire's testing kit (``agent.testing``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer
from toolwire_git import GitSettings, create_server

from agent.testing import call, connect, run_agent
from servers.common.workspace import Workspace

pytestmark = pytest.mark.anyio
PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two commits by two authors."""

    def git(*args: str, author: str = "Ada") -> None:
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        for role in ("AUTHOR", "COMMITTER"):
            env |= {f"GIT_{role}_NAME": author, f"GIT_{role}_EMAIL": f"{author}@example.com"}
            env[f"GIT_{role}_DATE"] = "2024-05-01T12:00:00"
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    root = tmp_path / "repo"

    root.mkdir()
    git("init", "-q", "-b", "main")
    (root / "app.py").write_text("def answer():\n    return 41\n")
    git("add", "app.py")
    git("commit", "-q", "-m", "Add the answer")
    (root / "app.py").write_text("def answer():\n    return 42\n")
    git("commit", "-q", "-am", "Fix the answer", author="Grace")
    return root


def server_for(root: Path) -> MCPServer[Any]:
    return create_server(GitSettings(Workspace.from_paths([root])))


async def test_log_lists_commits_newest_first(repo: Path) -> None:
    async with connect(server_for(repo)) as tools:
        result = (await tools.call("git_log", path="app.py")).ok()
    first, second = result.text.splitlines()
    assert first.endswith("Grace: Fix the answer") and "2024-05-01" in first
    assert second.endswith("Ada: Add the answer")
    assert result.data["args"][0] == "log"


async def test_blame_names_who_changed_each_line(repo: Path) -> None:
    async with connect(server_for(repo)) as tools:
        result = (await tools.call("git_blame", path="app.py", start=2, end=2)).ok()
    assert "Grace" in result.text and "return 42" in result.text
    assert "def answer" not in result.text


async def test_errors_are_for_the_model(repo: Path, tmp_path: Path) -> None:
    async with connect(server_for(repo)) as tools:
        outside = await tools.call("git_log", path="/etc")
        missing = await tools.call("git_blame", path="nope.py")
    assert outside.is_error and "outside the workspace" in outside.text
    assert missing.is_error and "nope.py" in missing.text
    (tmp_path / "plain").mkdir()
    async with connect(server_for(tmp_path / "plain")) as tools:
        not_a_repo = await tools.call("git_log")
    assert not_a_repo.is_error and "not a git repository" in not_a_repo.text


async def test_contract_is_read_only(repo: Path) -> None:
    async with connect(server_for(repo), mode="legacy") as tools:
        listed = {tool.name: tool for tool in await tools.tools()}
    assert set(listed) == {"git_log", "git_blame"}
    for tool in listed.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint
        assert tool.output_schema is not None


async def test_runs_as_a_stdio_subprocess(repo: Path) -> None:
    command = [sys.executable, "-m", "toolwire_git", "--root", str(repo)]
    env = {"PYTHONPATH": str(PROJECT)}  # so it runs from a checkout, installed or not
    async with connect(command, env=env) as tools:
        result = (await tools.call("git_log", limit=1)).ok()
    assert result.text.endswith("Grace: Fix the answer")


async def test_inside_the_agent_loop(repo: Path) -> None:
    """The real loop and hub, with the scripted model server standing in for the model."""
    run = await run_agent(
        "Who fixed the answer, and how?",
        script={
            "turns": [[call("git__git_log", path="app.py", limit=1)]],
            # react to what the tool said, as a model would: blame the line it points at
            "rules": [
                {"match": "Fix the answer", "output": [call("git__git_blame", path="app.py")]},
                {"match": "return 42", "output": ["Grace changed it to return 42."]},
            ],
        },
        servers={"git": server_for(repo)},
        workspace=repo,
    )
    assert run.status == "completed", run.result.error
    assert run.final_text == "Grace changed it to return 42."
    assert [c.name for c in run.calls] == ["git__git_log", "git__git_blame"]
    assert "Grace" in run.output_of("git__git_blame")
    assert [r.turn for r in run.records] == ["turns[0]", "rules[0]", "rules[1]"]
