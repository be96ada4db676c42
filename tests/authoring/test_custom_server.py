"""examples/custom_server is found in all three documented ways: ``toolwire.toml``,
``.mcp.json`` (both read by the hub's config loader and started by the hub), and the
``toolwire.servers`` entry point of the installed package. Its own tests
(examples/custom_server/tests, in the agent loop too) are part of ``make test``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from agent.cli import main
from agent.config import load_settings
from agent.hub import Hub
from agent.testing.venv import Venv
from tests.authoring.helpers import EXAMPLE, git_repo, pip_install

# pip-installs the example into a scratch venv once (several seconds, more on a busy machine)
pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def installed(scratch_venv: Venv) -> Venv:
    pip_install(scratch_venv, "-e", str(EXAMPLE))
    return scratch_venv


@pytest.mark.parametrize("registration", ["toolwire.toml", ".mcp.json"])
async def test_registered_in_a_config_file(
    registration: str, installed: Venv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(tmp_path / "repo")
    shutil.copy(EXAMPLE / "registration" / registration, repo / registration)
    monkeypatch.setenv("PATH", f"{installed.bin}{os.pathsep}{os.environ['PATH']}")
    settings = load_settings(
        repo, user_config=None, bundled=(), entry_points=False, cache_dir=tmp_path / "cache"
    )
    assert [s.name for s in settings.servers] == ["git"]
    async with Hub.start(settings, wait=True) as hub:
        status = hub.servers[0]
        assert status.status == "ready", status.error
        names = sorted(entry.name for entry in hub.entries)
        assert names == ["git__git_blame", "git__git_log"]
        output = await hub.call("git__git_log", json.dumps({"limit": 5}), "call_1")
    assert "Grace: Fix the answer" in str(output["output"])
    assert "Ada: Add the answer" in str(output["output"])


def test_registered_by_its_entry_point(installed: Venv, tmp_path: Path) -> None:
    """No configuration at all: installing the package is enough."""
    repo = git_repo(tmp_path / "repo")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    done = installed.run(
        "-m", "agent.cli", "call", "git", "git_blame", "path=app.py", "start=2", "-C", str(repo),
        env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Grace" in done.stdout and "return 42" in done.stdout


def test_schema_snapshots_catch_a_changed_contract(
    installed: Venv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = git_repo(tmp_path / "repo")
    shutil.copy(EXAMPLE / "registration" / "toolwire.toml", repo / "toolwire.toml")
    monkeypatch.setenv("PATH", f"{installed.bin}{os.pathsep}{os.environ['PATH']}")
    assert main(["schemas", "--write", "git", "-C", str(repo)]) == 0
    snapshot = repo / "schemas" / "tools" / "git.json"
    assert "git.json" in capsys.readouterr().out
    tools = json.loads(snapshot.read_text(encoding="utf-8"))
    assert [t["name"] for t in tools] == ["git_blame", "git_log"]
    assert main(["schemas", "--check", "-C", str(repo)]) == 0  # default: the non-bundled ones
    assert "match the snapshots (git)" in capsys.readouterr().out
    snapshot.write_text(snapshot.read_text().replace("most commits to list", "commits"))
    assert main(["schemas", "--check", "git", "-C", str(repo)]) == 1
    diff = capsys.readouterr().out
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and "description" in line]
    assert changed == [
        '-          "description": "commits",',
        '+          "description": "most commits to list",',
    ], diff
