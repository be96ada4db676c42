from __future__ import annotations

import pytest

from agent.testing.venv import Venv, make_venv


@pytest.fixture(autouse=True)
def no_user_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the developer's own ~/.config/toolwire and caches out of these tests."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))


@pytest.fixture(scope="session")
def scratch_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """One venv for the session that sees this environment (toolwire included) and into which
    tests pip-install packages for real (the build backend comes from PyPI or pip's cache)."""
    return make_venv(tmp_path_factory.mktemp("venv") / "venv")
