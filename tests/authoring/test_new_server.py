"""``toolwire new-server``: the package it writes installs, passes its own tests, and is found by
toolwire through its entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.scaffold import Names, ScaffoldError, write_project
from agent.testing.venv import Venv
from tests.authoring.helpers import pip_install


@pytest.mark.timeout(300)
def test_generated_package_passes_its_own_tests(
    scratch_venv: Venv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new-server", "word-tools", "--dir", str(tmp_path)]) == 0
    project = tmp_path / "word-tools"
    assert "created" in capsys.readouterr().out
    expected = {
        "pyproject.toml", "README.md", "word_tools/__init__.py", "word_tools/server.py",
        "word_tools/__main__.py", "tests/conftest.py", "tests/test_word_tools.py",
    }  # fmt: skip
    assert {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()} == expected

    pip_install(scratch_venv, "-e", str(project))
    tests = scratch_venv.run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project, check=False
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout

    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("one two\nthree\n", encoding="utf-8")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    call = scratch_venv.run(
        "-m", "agent.cli", "call", "word-tools", "word_count", "path=notes.txt",
        "-C", str(workspace), env=env, check=False,
    )  # fmt: skip
    assert call.returncode == 0, call.stdout + call.stderr
    assert "2 lines, 3 words, 14 bytes" in call.stdout
    script = scratch_venv.bin / "word-tools"
    assert script.exists(), "the console script was not installed"


def test_names_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert Names.of("weather-tools") == Names("weather-tools", "weather_tools")
    for bad in ("Weather", "1tool", "my tool", "a--b", "shell", "", "a" * 41):
        with pytest.raises(ScaffoldError):
            Names.of(bad)
    write_project("again", tmp_path)
    with pytest.raises(ScaffoldError, match="already exists"):
        write_project("again", tmp_path)
    write_project("again", tmp_path, force=True)
    assert main(["new-server", "Bad Name", "--dir", str(tmp_path)]) == 2
    assert "not a usable name" in capsys.readouterr().err
