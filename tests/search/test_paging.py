"""Paging sinks fed synthetic rg output: skipping, context, size cut-off, counting, replay."""

from __future__ import annotations

import json
import random

from hypothesis import given
from hypothesis import strategies as st

from servers.search.events import clean_path, data_bytes
from servers.search.paging import (
    ContentPage,
    CountTally,
    FilesPage,
    UnorderedBuffer,
    UnorderedLines,
    file_spans,
)
from tests.search import rgjson


def event(kind: str, path: str, line: int | None = None, text: str = "") -> bytes:
    data: dict[str, object] = {"path": {"text": path}}
    if kind in ("match", "context"):
        data.update(
            lines={"text": text + "\n"},
            line_number=line,
            absolute_offset=0,
            submatches=[{"match": {"text": "m"}, "start": 0, "end": 1}] if kind == "match" else [],
        )
    if kind == "end":
        data.update(binary_offset=None, stats={})
    return json.dumps({"type": kind, "data": data}, separators=(",", ":")).encode() + b"\n"


def file_events(path: str, lines: dict[int, str], matches: set[int]) -> bytes:
    """begin, then match/context events for ``lines`` (number -> text), then end."""
    out = [event("begin", path)]
    for number in sorted(lines):
        kind = "match" if number in matches else "context"
        out.append(event(kind, path, number, lines[number]))
    out.append(event("end", path))
    return b"".join(out)


def stream(files: int = 5, per_file: int = 7) -> bytes:
    return b"".join(
        file_events(
            f"./f{n}.txt", {i: f"m {n}.{i}" for i in range(1, per_file + 1)}, set()
        ).replace(b'"type":"context"', b'"type":"match"')
        for n in range(files)
    )


def feed_in_chunks(page: ContentPage | FilesPage, data: bytes, size: int) -> None:
    for i in range(0, len(data), size):
        page.feed(data[i : i + size])


def test_pages_cover_every_match_once_whatever_the_chunking() -> None:
    data = stream(files=6, per_file=9)
    everything = [(f"f{n}.txt", i) for n in range(6) for i in range(1, 10)]
    for chunk in (1, 7, 100, 1 << 16):
        seen = []
        offset = 0
        while True:
            page = ContentPage(offset, 10)
            feed_in_chunks(page, data, chunk)
            seen += [(m.path.decode(), m.line) for m in page.matches]
            if not page.has_more:
                break
            offset = page.shown_until
        assert seen == everything, chunk


def test_counting_after_the_page_is_exact_across_chunk_boundaries() -> None:
    data = stream(files=4, per_file=25)  # 100 matches
    for chunk in (3, 13, 4096):
        page = ContentPage(0, 10)
        feed_in_chunks(page, data, chunk)
        assert page.satisfied
        assert page.more == 90, chunk


def test_context_lines_attach_to_the_nearest_page_match() -> None:
    lines = {n: f"line {n}" for n in range(1, 13)}
    data = file_events("./a.py", lines, matches={3, 5, 11})
    page = ContentPage(0, 10, context=2)
    page.feed(data)
    first, second, third = page.matches
    assert [c.number for c in first.before] == [1, 2]
    assert [c.number for c in first.after] == [4]
    assert [c.number for c in second.before] == []
    assert [c.number for c in second.after] == [6, 7]
    assert [c.number for c in third.before] == [9, 10]
    assert [c.number for c in third.after] == [12]


def test_a_later_page_gets_before_context_from_after_a_skipped_match() -> None:
    lines = {n: f"line {n}" for n in range(1, 10)}
    data = file_events("./a.py", lines, matches={2, 6})
    page = ContentPage(1, 10, context=2)
    page.feed(data)
    (only,) = page.matches
    assert only.line == 6
    assert [c.number for c in only.before] == [4, 5]
    assert [c.number for c in only.after] == [7, 8]


def test_the_last_match_keeps_its_after_context_before_counting_starts() -> None:
    lines = {n: f"line {n}" for n in range(1, 10)}
    data = file_events("./a.py", lines, matches={2, 8})
    page = ContentPage(0, 1, context=2)
    page.feed(data)
    assert [c.number for c in page.matches[0].after] == [3, 4]
    assert page.more == 1


def test_a_page_ends_early_at_the_size_limit_without_skipping() -> None:
    data = stream(files=1, per_file=50)
    page = ContentPage(0, 50, max_chars=400)
    page.feed(data)
    assert page.cut_by_size
    assert 0 < len(page.matches) < 50
    assert page.more == 50 - len(page.matches)
    follow = ContentPage(page.shown_until, 50, max_chars=10_000)
    follow.feed(data)
    assert follow.matches[0].line == len(page.matches) + 1


def test_binary_files_and_refused_paths_are_reported() -> None:
    end = json.dumps({"type": "end", "data": {"path": {"text": "./b"}, "binary_offset": 77}})
    data = file_events("./out/x", {1: "m"}, {1}) + event("begin", "./b") + end.encode() + b"\n"
    page = ContentPage(0, 10, path_filter=lambda p: not p.startswith(b"out/"))
    page.feed(data)
    assert page.matches == []
    assert page.refused.count == 1
    assert page.binary_files == {b"b": 77}


def test_unordered_replay_equals_a_sorted_stream() -> None:
    files = [f"./d{n % 3}/f{n}.txt" for n in range(12)]
    blocks = [file_events(p, {1: "m", 2: "c", 3: "m"}, {1, 3}) for p in files]
    random.Random(7).shuffle(blocks)
    buffer = UnorderedBuffer(cap=100)
    buffer.feed(b"".join(blocks))
    assert not buffer.overflow
    replayed = ContentPage(0, 100, context=1)
    buffer.replay(replayed)
    in_order = ContentPage(0, 100, context=1)
    in_order.feed(b"".join(file_events(p, {1: "m", 2: "c", 3: "m"}, {1, 3}) for p in sorted(files)))
    assert [(m.path, m.line) for m in replayed.matches] == [
        (m.path, m.line) for m in in_order.matches
    ]


def reference_spans(run: bytes) -> list[tuple[bytes, bytes]]:
    """Each file's events after ``begin`` (``end`` included), found by parsing every line."""
    found: list[tuple[bytes, list[bytes]]] = []
    current: list[bytes] | None = None
    for line in run.splitlines(keepends=True):
        event = json.loads(line)
        if event["type"] == "begin":
            current = []
            found.append((clean_path(data_bytes(event["data"]["path"])), current))
        elif current is not None:
            current.append(line)
            if event["type"] == "end":
                current = None
    return [(path, b"".join(lines)) for path, lines in found]


file_blocks = st.lists(
    st.tuples(
        rgjson.paths,
        st.lists(st.tuples(st.booleans(), rgjson.texts), max_size=4),
        st.sampled_from([None, 0, 123]),
    ),
    max_size=6,
)


@given(
    files=file_blocks,
    summary=st.sampled_from([b"", rgjson.SUMMARY, rgjson.SUMMARY_TYPE_FIRST]),
    dot=st.sampled_from([b"", b"./", b"././", b".//"]),
)
def test_file_spans_agree_with_parsing_every_line(
    files: list[tuple[bytes, list[tuple[bool, bytes]], int | None]], summary: bytes, dot: bytes
) -> None:
    run = b""
    for path, events, binary in files:
        shown = dot + path
        run += rgjson.begin(shown)
        for number, (is_match, text) in enumerate(events, 1):
            kind = "match" if is_match else "context"
            run += rgjson.lines_event(kind, shown, number, text + b"\n", [0] if is_match else [])
        run += rgjson.end(shown, binary)
    run += summary
    spans = [(path, run[start:end]) for path, start, end in file_spans(run)]
    assert spans == reference_spans(run)


def test_replay_leaves_out_a_line_cut_short_by_a_timeout() -> None:
    whole = file_events("./a.txt", {1: "m 1", 2: "m 2"}, {1, 2})
    cut = event("begin", "./b.txt") + event("match", "./b.txt", 1, "m")[:-10]
    buffer = UnorderedBuffer(cap=100)
    buffer.feed(whole + cut)
    page = ContentPage(0, 100)
    buffer.replay(page)
    assert [(m.path, m.line) for m in page.matches] == [(b"a.txt", 1), (b"a.txt", 2)]


def test_unordered_buffer_counts_matches_split_across_chunks() -> None:
    data = stream(files=3, per_file=5)
    for size in (1, 2, 13, 14, 15, 16, 29, 1 << 16):
        buffer = UnorderedBuffer(cap=100)
        for i in range(0, len(data), size):
            buffer.feed(data[i : i + size])
        assert buffer.matches == 15, size


PLAIN_WITH_CONTEXT = (
    b"./a.py\x004-before\n./a.py\x005:3:  match 5\n./a.py\x006-after: 7:8:\n"
    b"./b 12:3.py\x0012:1:match:12\n./b 12:3.py\x0013-13-\n"
)
"""rg's plain output with context lines: 2 matches, names and texts full of digits and colons."""


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_plain_runs_count_matches_not_context_lines_however_split(sizes: list[int]) -> None:
    data = PLAIN_WITH_CONTEXT
    buffer = UnorderedLines(cap=100, context=1)
    at = 0
    for size in sizes * (len(data) // sum(sizes) + 1):
        buffer.feed(data[at : at + size])
        at += size
        if at >= len(data):
            break
    assert buffer.matches == 2


def test_plain_replay_with_context_lines() -> None:
    buffer = UnorderedLines(cap=100, context=1)
    buffer.feed(PLAIN_WITH_CONTEXT)
    page = ContentPage(0, 100, context=1)
    assert buffer.replay(page)
    assert [(m.path, m.line, m.text, m.column) for m in page.matches] == [
        (b"a.py", 5, "  match 5", 3),
        (b"b 12:3.py", 12, "match:12", 1),
    ]
    assert [(c.number, c.text) for c in page.matches[0].before] == [(4, "before")]
    assert [(c.number, c.text) for c in page.matches[0].after] == [(6, "after: 7:8:")]
    assert [(c.number, c.text) for c in page.matches[1].after] == [(13, "13-")]
    later = ContentPage(1, 100, context=1)
    buffer.replay(later)
    assert [m.line for m in later.matches] == [12] and later.skipped == 1
    first = ContentPage(0, 1, context=1)
    buffer.replay(first)
    assert [m.line for m in first.matches] == [5] and first.more == 1


def test_unordered_buffer_gives_up_past_its_cap() -> None:
    buffer = UnorderedBuffer(cap=5)
    buffer.feed(stream(files=2, per_file=4))
    assert buffer.overflow and buffer.stop
    assert buffer.matches == 8


def test_files_page_parses_records_with_odd_paths() -> None:
    data = b"./a\nnewline\x003\n./b\x001\n./c\x0012\n"
    page = FilesPage(1, 1)
    feed_in_chunks(page, data, 2)
    assert [(h.path, h.count) for h in page.files] == [(b"b", 1)]
    assert page.more == 1


def test_count_tally_keeps_only_the_top_of_the_ranking() -> None:
    tally = CountTally(1, 2)
    records = b"".join(f"./f{n}\x00{n % 5}\n".encode() for n in range(1, 21))
    tally.feed(records)
    assert tally.total_files == 20
    assert tally.total_matches == sum(n % 5 for n in range(1, 21))
    # counts of 4 are f14, f19, f4, f9 (path order); the page skips the first
    assert [h.path for h in tally.page()] == [b"f19", b"f4"]
