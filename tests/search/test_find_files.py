"""find_files through MCP: globs, fuzzy ranking, ignore rules, errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.common.workspace import Workspace
from servers.search.server import _Context
from tests.search import rgjson
from tests.search.conftest import call, connect, write

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_glob_and_fuzzy(project: Path, mode: str) -> None:
    async with connect(project, mode=mode) as client:
        py = await call(client, "find_files", pattern="*.py")
        anchored = await call(client, "find_files", pattern="src/**/*.ts")
        fuzzy = await call(client, "find_files", pattern="app")
        under = await call(client, "find_files", pattern="*.ts", path="src")
    assert py.files == ["src/app.py"]
    assert py.data["match"] == "glob" and py.data["total"] == 1
    assert anchored.files == ["src/web/index.ts"]
    assert fuzzy.data["match"] == "fuzzy"
    assert fuzzy.files[0] == "src/app.py"
    assert under.files == ["src/web/index.ts"]
    assert py.text == "src/app.py"


async def test_ignore_rules_apply_unless_asked(project: Path) -> None:
    async with connect(project) as client:
        default = await call(client, "find_files", pattern="*.py")
        everything = await call(client, "find_files", pattern="*.py", hidden=True, no_ignore=True)
    assert default.files == ["src/app.py"]
    assert everything.files == [".hidden/secret.py", "build/out.py", "src/app.py", "vendor/lib.py"]


async def test_basename_matches_rank_first(tmp_path: Path) -> None:
    for path in ("search/engine/run.py", "lib/search.py", "docs/research_notes.md", "x/s/e/a.rch"):
        write(tmp_path / path, "")
    async with connect(tmp_path) as client:
        found = await call(client, "find_files", pattern="search")
        paged = await call(client, "find_files", pattern="search", limit=1)
    assert found.files == [
        "lib/search.py",
        "docs/research_notes.md",
        "search/engine/run.py",
        "x/s/e/a.rch",  # only its letters, scattered over the path: last
    ]
    assert paged.files == ["lib/search.py"]
    assert paged.data["paging"]["more"] == 3
    assert '3 more files; next page: find_files(pattern="search", limit=1, offset=1)' in paged.text


async def test_errors(project: Path) -> None:
    async with connect(project) as client:
        not_dir = await call(client, "find_files", pattern="*.py", path="src/app.py")
        nothing = await call(client, "find_files", pattern="*.nope")
        bad_glob = await call(client, "find_files", pattern="{a")
    assert not_dir.error and "not a directory" in not_dir.text
    assert not nothing.error and "No files matching the glob" in nothing.text
    assert bad_glob.error and "glob" in bad_glob.text


@given(paths=st.lists(rgjson.paths, max_size=6))
def test_paths_shown_in_one_pass_equal_paths_shown_one_by_one(paths: list[bytes]) -> None:
    # find_files decodes its page joined by NULs; a path outside the first root is shown with
    # that root in front of it
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        ws = Workspace.from_paths([first, second])
        for context in (_Context(ws, ".", False), _Context(ws, second, False)):
            assert context.display_all(paths) == [context.display(p) for p in paths]
