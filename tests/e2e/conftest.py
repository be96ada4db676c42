"""End-to-end fixtures: an isolated home for config, caches and sessions, shared by the
whole run so the hub's schema cache is warm after the first start (as it is for a user)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

DEMO_REPO = Path(__file__).resolve().parents[2] / "examples" / "demo_repo"


@pytest.fixture(scope="session")
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture
def env(isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Environment for the agent and its subprocesses: private XDG directories, a private
    session directory (returned), and a fake API key for the scripted model."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(isolated_home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated_home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(isolated_home / "state"))
    sessions = tmp_path / "state"
    monkeypatch.setenv("TOOLWIRE_STATE_DIR", str(sessions))
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("TOOLWIRE_PROVIDER", raising=False)
    yield sessions
    assert os.environ["TOOLWIRE_STATE_DIR"] == str(sessions)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the demo repository to work on."""
    target = tmp_path / "repo"
    shutil.copytree(DEMO_REPO, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
