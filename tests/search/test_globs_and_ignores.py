"""Globs and types never bring back what ignore and hidden-file rules leave out.

rg's ``--glob`` whitelists every file it matches, past .gitignore, .ignore and the hidden-file
rule, and ``--type`` whitelists hidden files. These tests pin down that grep and find_files
still leave those files out by default, and include them when ``no_ignore`` / ``hidden`` ask.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.search.conftest import call, connect, write

pytestmark = pytest.mark.anyio

VISIBLE = ["a.py", "src/b.py"]
IGNORED = ["generated.py", "ign.py", "node_modules/x.py", "src/out.py"]
HIDDEN = [".hd/c.py", ".hd/sub/g.py", ".hidden.py", "src/.h.py", "src/.x/e.py"]
HIDDEN_DIR = [".hd/.f.py", ".hd/c.py", ".hd/sub/g.py"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A real git repository with ignored, .ignore'd and hidden Python files, all saying
    ``needle``, beside one visible JavaScript file."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    write(root / ".gitignore", "generated.py\nnode_modules/\nout.py\n")
    write(root / ".ignore", "ign.py\n")
    for path in [*VISIBLE, *IGNORED, *HIDDEN, ".hd/.f.py", "a.js"]:
        write(root / path, "needle\n")
    return root


def _sorted(paths: Iterable[str]) -> list[str]:
    return sorted(paths)


async def test_glob_type_and_find_files_leave_out_ignored_and_hidden(tree: Path) -> None:
    async with connect(tree) as client:
        by_glob = await call(client, "grep", pattern="needle", glob="*.py", output_mode="files")
        by_deep_glob = await call(client, "grep", pattern="needle", glob="**/*.py")
        by_type = await call(client, "grep", pattern="needle", type="py", output_mode="count")
        found = await call(client, "find_files", pattern="*.py")
        found_deep = await call(client, "find_files", pattern="**/*.py")
    assert _sorted(by_glob.files) == VISIBLE
    assert _sorted(p for p, _ in by_deep_glob.matches) == VISIBLE
    assert _sorted(by_type.files) == VISIBLE
    assert by_type.data["total_files"] == 2
    assert found.files == VISIBLE and found.data["total"] == 2
    assert found_deep.files == VISIBLE


async def test_counts_stay_exact(tree: Path) -> None:
    async with connect(tree) as client:
        page = await call(client, "grep", pattern="needle", glob="*.py", limit=1)
    assert page.matches == [("a.py", 1)]
    assert page.data["paging"]["more"] == 1


async def test_no_ignore_and_hidden_bring_them_back(tree: Path) -> None:
    async with connect(tree) as client:
        ignored = await call(client, "find_files", pattern="*.py", no_ignore=True)
        hidden = await call(client, "find_files", pattern="*.py", hidden=True)
        both = await call(client, "find_files", pattern="*.py", hidden=True, no_ignore=True)
        grep_ignored = await call(
            client, "grep", pattern="needle", type="py", no_ignore=True, output_mode="files"
        )
        grep_hidden = await call(
            client, "grep", pattern="needle", glob="*.py", hidden=True, output_mode="files"
        )
    assert ignored.files == _sorted([*VISIBLE, *IGNORED])
    assert hidden.files == _sorted([*VISIBLE, *HIDDEN, ".hd/.f.py"])
    assert both.files == _sorted([*VISIBLE, *IGNORED, *HIDDEN, ".hd/.f.py"])
    assert _sorted(grep_ignored.files) == _sorted([*VISIBLE, *IGNORED])
    assert _sorted(grep_hidden.files) == _sorted([*VISIBLE, *HIDDEN, ".hd/.f.py"])


async def test_negated_globs_and_glob_lists(tree: Path) -> None:
    async with connect(tree) as client:
        listed = await call(client, "grep", pattern="needle", glob=["*.py", "*.js"])
        negated = await call(client, "grep", pattern="needle", glob=["*.py", "!src/**"])
        only_negated = await call(client, "grep", pattern="needle", glob="!*.js")
        dir_negated = await call(client, "find_files", pattern="*.py", path="src")
    assert _sorted(p for p, _ in listed.matches) == ["a.js", *VISIBLE]
    assert [p for p, _ in negated.matches] == ["a.py"]
    assert _sorted(p for p, _ in only_negated.matches) == VISIBLE
    assert dir_negated.files == ["src/b.py"]


async def test_a_hidden_directory_given_as_path_is_searched(tree: Path) -> None:
    async with connect(tree) as client:
        grep_glob = await call(client, "grep", pattern="needle", path=".hd", glob="*.py")
        grep_type = await call(client, "grep", pattern="needle", path="./.hd/", type="py")
        grep_file = await call(client, "grep", pattern="needle", path=".hd/.f.py", glob="*.py")
        found = await call(client, "find_files", pattern="*.py", path=".hd")
        with_hidden = await call(client, "find_files", pattern="*.py", path=".hd", hidden=True)
    visible_inside = [".hd/c.py", ".hd/sub/g.py"]
    assert [p for p, _ in grep_glob.matches] == visible_inside
    assert [p for p, _ in grep_type.matches] == visible_inside
    assert [p for p, _ in grep_file.matches] == [".hd/.f.py"]  # named explicitly: searched
    assert found.files == visible_inside
    assert with_hidden.files == HIDDEN_DIR


async def test_a_path_glob_selects_ignored_files_but_not_hidden_ones(tree: Path) -> None:
    """The documented exception: a glob with a slash is matched by rg's --glob, which selects
    the files it names even when .gitignore lists them; hidden files stay out."""
    async with connect(tree) as client:
        found = await call(client, "find_files", pattern="src/**/*.py")
        hidden = await call(client, "find_files", pattern="src/**/*.py", hidden=True)
    assert found.files == ["src/b.py", "src/out.py"]
    assert hidden.files == ["src/.h.py", "src/.x/e.py", "src/b.py", "src/out.py"]
