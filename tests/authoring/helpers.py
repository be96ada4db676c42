"""Helpers for the authoring tests: installing packages for real, making git repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agent.testing.venv import Venv, VenvError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_server"


def pip_install(venv: Venv, *args: str) -> None:
    """Install into the scratch venv; skip (not fail) when the build backend cannot be had."""
    try:
        venv.pip_install("--no-deps", *args)
    except VenvError as exc:
        if "hatchling" in str(exc) and ("Could not find" in str(exc) or "No matching" in str(exc)):
            pytest.skip(f"cannot fetch the build backend (offline?): {exc}")
        raise


def git_repo(root: Path) -> Path:
    """A repository with two commits by two authors (the example server's fixture, again)."""

    def git(*args: str, author: str) -> None:
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        for role in ("AUTHOR", "COMMITTER"):
            env |= {f"GIT_{role}_NAME": author, f"GIT_{role}_EMAIL": f"{author}@example.com"}
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    root.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", author="Ada")
    (root / "app.py").write_text("def answer():\n    return 41\n", encoding="utf-8")
    git("add", "app.py", author="Ada")
    git("commit", "-q", "-m", "Add the answer", author="Ada")
    (root / "app.py").write_text("def answer():\n    return 42\n", encoding="utf-8")
    git("commit", "-q", "-am", "Fix the answer", author="Grace")
    return root
