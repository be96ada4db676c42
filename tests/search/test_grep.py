"""grep through MCP on real trees with the real rg: output modes, filters, text, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.search.conftest import call, connect, write

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_content_mode(project: Path, mode: str) -> None:
    async with connect(project, mode=mode) as client:
        found = await call(client, "grep", pattern="hello")
    assert not found.error
    assert found.matches == [
        ("docs/README.md", 1),
        ("docs/README.md", 3),
        ("src/app.py", 3),
        ("src/app.py", 4),
        ("src/app.py", 8),
        ("src/web/index.ts", 1),
        ("ünï/日本.txt", 1),
    ]
    assert found.text.splitlines()[2] == "src/app.py:3:def hello():"
    first = found.data["matches"][2]
    assert first["column"] == 5
    paging = found.data["paging"]
    assert paging["has_more"] is False and paging["next_offset"] is None and paging["more"] == 0


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_files_mode_lists_newest_first_with_counts(project: Path, mode: str) -> None:
    async with connect(project, mode=mode) as client:
        found = await call(client, "grep", pattern="hello", output_mode="files", glob="!ünï/**")
    assert [(f["path"], f["count"]) for f in found.data["files"]] == [
        ("src/web/index.ts", 1),
        ("docs/README.md", 2),
        ("src/app.py", 3),
    ]
    assert found.text.splitlines()[0] == "1 src/web/index.ts"


async def test_count_mode_totals(project: Path) -> None:
    async with connect(project) as client:
        found = await call(client, "grep", pattern="hello", output_mode="count")
    assert found.data["total_matches"] == 7
    assert found.data["total_files"] == 4
    assert found.data["files"][:2] == [
        {"path": "src/app.py", "count": 3},
        {"path": "docs/README.md", "count": 2},
    ]
    assert found.text.splitlines()[0] == "7 matching lines in 4 files"


async def test_a_single_file_in_every_mode(project: Path) -> None:
    async with connect(project) as client:
        content = await call(client, "grep", pattern="hello", path="src/app.py")
        files = await call(client, "grep", pattern="hello", path="src/app.py", output_mode="files")
        count = await call(client, "grep", pattern="hello", path="src/app.py", output_mode="count")
    assert content.matches == [("src/app.py", 3), ("src/app.py", 4), ("src/app.py", 8)]
    assert files.data["files"] == [{"path": "src/app.py", "count": 3}]
    assert count.data["files"] == [{"path": "src/app.py", "count": 3}]
    assert count.data["total_matches"] == 3


async def test_context_lines_are_marked(project: Path) -> None:
    async with connect(project) as client:
        found = await call(client, "grep", pattern="def ", context=1, path="src")
    assert (
        found.text.splitlines()[:8]
        == [
            "src/app.py-2-",
            "src/app.py:3:def hello():",
            "src/app.py-4-    return 'Hello world'",
            "--",
            "src/app.py-6-",
            "src/app.py:7:def main():",
            "src/app.py-8-    hello()",
        ][:8]
    )
    match = found.data["matches"][0]
    assert match["before"] == [{"line": 2, "text": ""}]
    assert match["after"] == [{"line": 4, "text": "    return 'Hello world'"}]


async def test_globs_and_types(project: Path) -> None:
    async with connect(project) as client:
        py = await call(client, "grep", pattern="hello", glob="*.py")
        ts = await call(client, "grep", pattern="hello", type="ts")
        both = await call(client, "grep", pattern="hello", glob=["*.{py,ts}", "!src/web/**"])
        bad_type = await call(client, "grep", pattern="hello", type="nosuchtype")
        bad_glob = await call(client, "grep", pattern="hello", glob="{a")
    assert {p for p, _ in py.matches} == {"src/app.py"}
    assert {p for p, _ in ts.matches} == {"src/web/index.ts"}
    assert {p for p, _ in both.matches} == {"src/app.py"}
    assert bad_type.error and "unrecognized file type: nosuchtype" in bad_type.text
    assert "Hint" in bad_type.text
    assert bad_glob.error and "glob" in bad_glob.text


async def test_ignore_files_and_hidden_files(project: Path) -> None:
    async with connect(project) as client:
        default = await call(client, "grep", pattern="hello", output_mode="count")
        hidden = await call(client, "grep", pattern="hello", output_mode="count", hidden=True)
        ignored = await call(client, "grep", pattern="hello", output_mode="count", no_ignore=True)
        both = await call(
            client, "grep", pattern="hello", output_mode="count", hidden=True, no_ignore=True
        )
    assert not {"build/out.py", "debug.log", "vendor/lib.py", ".hidden/secret.py"} & set(
        default.files
    )
    assert ".hidden/secret.py" in hidden.files and "build/out.py" not in hidden.files
    assert {"build/out.py", "debug.log", "vendor/lib.py"} <= set(ignored.files)
    assert ".hidden/secret.py" not in ignored.files
    assert ".hidden/secret.py" in both.files
    # .git is never searched, even with hidden and ignored files included
    assert not [f for f in both.files if f.startswith(".git/")]
    assert ".gitignore" not in both.files  # no match in it; just checking nothing odd leaks


async def test_nothing_found_says_what_was_not_searched(project: Path) -> None:
    async with connect(project) as client:
        found = await call(client, "grep", pattern="NoSuchThing")
    assert found.matches == []
    assert 'No matches for "NoSuchThing"' in found.text
    assert "hidden=true" in found.text and "case='insensitive'" in found.text


async def test_case_modes(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Hello\nhello\nHELLO\n")
    async with connect(tmp_path) as client:
        smart_lower = await call(client, "grep", pattern="hello")
        smart_upper = await call(client, "grep", pattern="Hello")
        sensitive = await call(client, "grep", pattern="hello", case="sensitive")
        insensitive = await call(client, "grep", pattern="Hello", case="insensitive")
    assert len(smart_lower.matches) == 3
    assert smart_upper.matches == [("a.txt", 1)]
    assert sensitive.matches == [("a.txt", 2)]
    assert len(insensitive.matches) == 3


async def test_fixed_strings_and_multiline(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "x = f(a[0])\nstart\nend\n")
    async with connect(tmp_path) as client:
        literal = await call(client, "grep", pattern="f(a[0])", fixed_strings=True)
        multi = await call(client, "grep", pattern=r"start\nend", multiline=True)
        single = await call(client, "grep", pattern=r"start\nend")
    assert literal.matches == [("a.py", 1)]
    assert multi.matches == [("a.py", 2)]
    assert multi.data["matches"][0]["text"] == "start\nend"
    assert multi.text.splitlines()[:2] == ["a.py:2:start", "a.py:3:end"]
    assert single.matches == []


async def test_invalid_regex_returns_rgs_message_and_a_hint(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "foo(\n")
    async with connect(tmp_path) as client:
        bad = await call(client, "grep", pattern="foo(")
        lookaround = await call(client, "grep", pattern=r"(?<=foo)\(")
    assert bad.error
    assert "regex parse error" in bad.text and "unclosed group" in bad.text
    assert "fixed_strings=true" in bad.text
    # rg's default engine lacks look-around; the server lets rg fall back to PCRE2
    assert lookaround.matches == [("a.py", 1)]


async def test_long_lines_are_cut_around_the_match(tmp_path: Path) -> None:
    line = "a" * 50_000 + "NEEDLE" + "b" * 50_000
    write(tmp_path / "min.js", line + "\n")
    async with connect(tmp_path, max_line_chars=200) as client:
        found = await call(client, "grep", pattern="NEEDLE")
    text = found.data["matches"][0]["text"]
    assert "NEEDLE" in text
    assert len(text) < 300
    assert text.startswith("[") and "chars ...]" in text
    assert found.data["matches"][0]["column"] == 50_001


async def test_a_line_too_long_to_hold_is_reported_not_loaded(tmp_path: Path) -> None:
    write(tmp_path / "huge.js", "x" * (3 << 20) + "NEEDLE\n")
    write(tmp_path / "small.js", "NEEDLE\n")
    async with connect(tmp_path) as client:
        found = await call(client, "grep", pattern="NEEDLE")
    assert found.matches == [("huge.js", 1), ("small.js", 1)]
    assert "too long to show" in found.data["matches"][0]["text"]


async def test_multiple_roots_show_absolute_paths_outside_the_first(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    write(first / "a.txt", "needle\n")
    write(second / "b.txt", "needle\n")
    async with connect(first, second) as client:
        here = await call(client, "grep", pattern="needle")
        there = await call(client, "grep", pattern="needle", path=str(second))
        more = await call(client, "grep", pattern="needle", path=str(second), limit=1, offset=1)
    assert here.matches == [("a.txt", 1)]
    assert there.matches == [(str(second.resolve() / "b.txt"), 1)]
    assert more.matches == []
    assert "offset=1 is past the last result" in more.text
