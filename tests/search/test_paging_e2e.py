"""Paging through MCP with the real rg: pages joined must equal one full rg run, exactly."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from servers.search import engine
from servers.search.events import clean_path, data_bytes, show
from servers.search.paging import ContentPage, UnorderedBuffer
from servers.search.rg import RgRun, find_rg, run_rg
from tests.search.conftest import call, connect, write

pytestmark = pytest.mark.anyio

NAMES = ["a", "a+", "a-b", "a.b", "B", "é", "z", "_x"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """~40 files whose names sort differently bytewise and per directory, each with matches."""
    root = tmp_path / "tree"
    n = 0
    for top in NAMES:
        for sub in ("", "a", "a+"):
            for name in ("f.py", "f+.py", "g.py"):
                path = root / top / sub / name if sub else root / top / name
                n += 1
                lines = [f"needle {n}.{i}" if i % 3 != 1 else f"hay {i}" for i in range(n % 11 + 2)]
                write(path, "\n".join(lines) + "\n", mtime=1_000_000 + n * 10)
    return root


def reference_matches(root: Path, *extra: str) -> list[tuple[str, int]]:
    """Every match, in path order, straight from the rg command line."""
    out = subprocess.run(
        [find_rg(), "--json", "--sort=path", *extra, "needle", "."],
        cwd=root,
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    found = []
    for line in out.splitlines():
        event = json.loads(line)
        if event["type"] == "match":
            data = event["data"]
            found.append((show(clean_path(data_bytes(data["path"]))), data["line_number"]))
    return found


async def all_pages(client: Client, tool: str, key: str, **args: Any) -> list[Any]:
    """Follow next_call from the first page to the last; return every item seen."""
    items: list[Any] = []
    call_args: dict[str, Any] | None = args
    pages = 0
    while call_args is not None:
        result = await call(client, tool, **call_args)
        assert not result.error, result.text
        items += result.data[key]
        call_args = result.data["paging"]["next_call"]
        if call_args is not None:
            assert f"offset={call_args['offset']}" in result.text
        pages += 1
        assert pages < 500
    return items


@pytest.mark.parametrize("unordered_min", [0, 1000])
async def test_content_pages_neither_repeat_nor_skip(
    tree: Path, monkeypatch: pytest.MonkeyPatch, unordered_min: int
) -> None:
    # With 0 the first pages overflow the parallel attempt and come from the sorted run while
    # the last page comes from the parallel run, sorted here: the two must agree.
    monkeypatch.setattr(engine, "UNORDERED_MIN", unordered_min)
    expected = reference_matches(tree)
    assert len(expected) > 150
    async with connect(tree) as client:
        got = await all_pages(client, "grep", "matches", pattern="needle", limit=37)
        with_context = await all_pages(
            client, "grep", "matches", pattern="needle", limit=29, context=2
        )
    assert [(m["path"], m["line"]) for m in got] == expected
    assert [(m["path"], m["line"]) for m in with_context] == expected


async def test_exact_count_of_what_follows(tree: Path) -> None:
    total = len(reference_matches(tree))
    async with connect(tree) as client:
        first = await call(client, "grep", pattern="needle", limit=100)
    paging = first.data["paging"]
    assert paging["more"] == total - 100
    assert paging["next_call"] == {"pattern": "needle", "offset": 100}
    assert f'[{total - 100:,} more matches; next page: grep(pattern="needle", offset=100)]' in (
        first.text
    )


async def test_limit_reached_early_reports_more_without_counting(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "UNORDERED_MIN", 0)
    async with connect(tree) as client:
        first = await call(client, "grep", pattern="needle", limit=10, glob="*.py")
    paging = first.data["paging"]
    assert len(first.matches) == 10
    assert paging["has_more"] is True
    assert paging["more"] is None and paging["more_at_least"] >= 1
    assert paging["next_call"] == {"pattern": "needle", "glob": "*.py", "limit": 10, "offset": 10}
    assert "more matches (not all counted)" in first.text


async def test_rg_is_stopped_once_the_page_is_complete(tree: Path) -> None:
    big = tree / "big.txt"
    write(big, "needle\n" * 2_000_000)
    page = ContentPage(0, 100)
    run: RgRun = await run_rg(
        [find_rg(), "--json", "--regexp=needle", "--", "big.txt"],
        tree,
        page,
        deadline=anyio.current_time() + 30,
        count_budget=0,
    )
    assert len(page.matches) == 100
    assert run.stopped_early and not run.eof and not run.timed_out


async def test_rg_is_stopped_once_the_unordered_attempt_overflows(tree: Path) -> None:
    write(tree / "big.txt", "needle\n" * 2_000_000)
    buffer = UnorderedBuffer(cap=50)
    run: RgRun = await run_rg(
        [find_rg(), "--json", "--regexp=needle", "--", "big.txt"],
        tree,
        buffer,
        deadline=anyio.current_time() + 30,
    )
    assert buffer.overflow and buffer.matches > 50
    assert run.stopped_early and not run.eof and not run.timed_out
    assert run.returncode is not None  # killed and reaped


async def test_files_pages_follow_rgs_newest_first_order(tree: Path) -> None:
    full = subprocess.run(
        [find_rg(), "--count", "--sortr=modified", "needle", "."],
        cwd=tree,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    expected = [line.rsplit(":", 1)[0].removeprefix("./") for line in full.splitlines()]
    async with connect(tree) as client:
        got = await all_pages(
            client, "grep", "files", pattern="needle", output_mode="files", limit=7
        )
    assert [f["path"] for f in got] == expected


async def test_count_pages_cover_every_file(tree: Path) -> None:
    async with connect(tree) as client:
        got = await all_pages(
            client, "grep", "files", pattern="needle", output_mode="count", limit=9
        )
        whole = await call(client, "grep", pattern="needle", output_mode="count", limit=1000)
    assert got == whole.data["files"]
    assert (
        sum(f["count"] for f in got) == whole.data["total_matches"] == len(reference_matches(tree))
    )
    counts = [f["count"] for f in got]
    assert counts == sorted(counts, reverse=True)


async def test_find_files_pages(tree: Path) -> None:
    listed = subprocess.run(
        [find_rg(), "--files", "--sort=path", "--glob=*+.py"],
        cwd=tree,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout.splitlines()
    async with connect(tree) as client:
        glob = await all_pages(client, "find_files", "files", pattern="*+.py", limit=5)
        fuzzy = await all_pages(client, "find_files", "files", pattern="ag", limit=6)
        fuzzy_whole = await call(client, "find_files", pattern="ag", limit=1000)
    assert glob == listed
    assert fuzzy == fuzzy_whole.data["files"]
    assert len(fuzzy) == len(set(fuzzy)) > 10


async def test_a_page_stops_at_the_output_size_limit(tree: Path) -> None:
    expected = reference_matches(tree)
    async with connect(tree, max_output_chars=2_000) as client:
        first = await call(client, "grep", pattern="needle", limit=1000)
        got = await all_pages(client, "grep", "matches", pattern="needle", limit=1000)
    assert 0 < len(first.matches) < len(expected)
    assert "to stay under 2,000 characters" in first.text
    assert [(m["path"], m["line"]) for m in got] == expected


def test_tree_names_really_sort_differently(tree: Path) -> None:
    # The point of the tree: "a/..." sorts before "a+" in rg's walk, after it bytewise.
    names = sorted(os.listdir(tree))
    assert names.index("a") < names.index("a+")
    assert sorted(["a/f.py", "a+/f.py"]) == ["a+/f.py", "a/f.py"]
    assert reference_matches(tree)[0][0].startswith("B/")
    order = [p for p, _ in reference_matches(tree)]
    assert order.index("a/a+/f.py") < order.index("a+/f.py")


@pytest.fixture
def odd_tree(tmp_path: Path) -> Path:
    """Files that test how a matching line is shown: non-ASCII before the match (columns are
    bytes in rg's output, characters in ours), CRLF, tabs, long lines cut around the match,
    invalid UTF-8, a binary file with a match before its first NUL, names with ':' and
    spaces, and a line too long to hold."""
    root = tmp_path / "odd"
    write(root / "plain.txt", "needle at start\nno\n  indented needle\n")
    write(
        root / "context.txt",
        "".join(f"line {i} {'needle' if i % 4 == 0 else 'hay'}\n" for i in range(40)),
    )
    write(root / "near huge.txt", "needle\n" + "v" * (1 << 21) + "\nneedle again\n")
    write(root / "uni/ü ber.txt", "ééé needle ééé\nΣσς needle\n日本 needle 語\n")
    write(root / "crlf.txt", "first needle\r\nsecond needle\r\n")
    write(root / "tabs:colon.txt", "\tneedle\twith\ttabs\n")
    write(root / "long.js", "x" * 3000 + "needle" + "y" * 3000 + "\n" + "needle" + "z" * 900 + "\n")
    (root / "bad.txt").write_bytes(b"\xff\xfe needle \xc3\x28 here\nok needle\n")
    # The NUL comes after 6 MiB: rg reuses a buffer grown for a 2 MiB line below, and one
    # that held the NUL from the first read would skip the file without a word.
    filler = (b"q" * 8191 + b"\n") * 768
    (root / "late.bin").write_bytes(b"needle first\n" + filler + b"\0\nneedle after\n")
    (root / "huge.js").write_bytes(b"w" * (1 << 21) + b"needle\n")
    return root


@pytest.mark.parametrize("context", [0, 1, 3])
@pytest.mark.parametrize(
    ("pattern", "offset", "limit"),
    [
        ("needle", 0, 100),
        ("needle", 3, 4),
        ("needle", 1, 1),
        ("e{2}d", 0, 100),
        ("(?i)NEEDLE", 5, 100),
        # every line but late.bin's filler: how many of those rg shows before it finds the
        # NUL depends on how it happens to read the file, so no pattern here may match them
        ("^[^q]", 0, 7),
        ("^[^q]", 2, 30),
    ],
)
async def test_plain_and_json_runs_give_the_same_page(
    odd_tree: Path, pattern: str, offset: int, limit: int, context: int
) -> None:
    from servers.search.paging import UnorderedLines
    from servers.search.rg import Filters, Pattern, grep_argv

    pages = []
    room = 64 << 20  # 2 MiB lines, in context too: more than a real search keeps
    buffers = (UnorderedLines(10_000, room, context=context), UnorderedBuffer(10_000, room))
    for buffer, run in zip(buffers, ("lines", "json"), strict=True):
        argv = grep_argv(find_rg(), Pattern(pattern), Filters(), ".", run, context)  # type: ignore[arg-type]
        done = await run_rg(argv, odd_tree, buffer, deadline=anyio.current_time() + 30)
        assert done.eof and not buffer.overflow
        page = ContentPage(offset, limit, context=context, max_line_chars=200)
        assert buffer.replay(page)
        pages.append(page)
    plain, json_page = pages
    assert plain.matches, "the tree has matches"
    assert buffers[0].matches == buffers[1].matches  # matches counted, not lines
    if pattern == "needle" and offset == 0:  # rg's note on the binary file was read
        assert plain.binary_files == {b"late.bin": json_page.binary_files[b"late.bin"]}
    if context and pattern == "needle":
        assert any(m.before or m.after for m in plain.matches)
    assert [(m.path, m.line, m.text, m.column, m.before, m.after) for m in plain.matches] == [
        (m.path, m.line, m.text, m.column, m.before, m.after) for m in json_page.matches
    ]
    assert (plain.skipped, plain.more, plain.binary_files, plain.cut_by_size) == (
        json_page.skipped,
        json_page.more,
        json_page.binary_files,
        json_page.cut_by_size,
    )


@pytest.mark.parametrize("context", [0, 1])
async def test_plain_output_it_cannot_read_falls_back_to_json(tmp_path: Path, context: int) -> None:
    """A path with a newline splits a line of rg's plain output in two: the search is done
    again with --json, and the result is exactly rg's."""
    root = tmp_path / "nl"
    write(root / "odd\nname.txt", "before\nneedle\n")
    write(root / "a.txt", "needle\nneedle\n")
    async with connect(root) as client:
        found = await call(client, "grep", pattern="needle", context=context)
    assert found.matches == [("a.txt", 1), ("a.txt", 2), ("odd\nname.txt", 2)]
    if context:
        assert found.data["matches"][2]["before"] == [{"line": 1, "text": "before"}]
