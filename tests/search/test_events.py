"""rg --json parsing: line splitting (bounded), event kinds, byte-encoded data, path order."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from servers.search.events import (
    LineSplitter,
    Oversize,
    begin_path,
    clean_path,
    data_bytes,
    kind_of,
    match_text,
    parse,
    path_of_key,
    show,
    sort_key,
    sort_keys,
)
from tests.search import rgjson


def match_line(path: str, line: int, text: str, start: int = 0) -> bytes:
    event = {
        "type": "match",
        "data": {
            "path": {"text": path},
            "lines": {"text": text},
            "line_number": line,
            "absolute_offset": 0,
            "submatches": [{"match": {"text": "x"}, "start": start, "end": start + 1}],
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


def test_splitter_joins_lines_across_chunks() -> None:
    splitter = LineSplitter(max_line=1000)
    data = b"one\ntwo\nthree\n"
    out: list[object] = []
    for i in range(len(data)):
        out.extend(splitter.feed(data[i : i + 1]))
    assert out == [b"one", b"two", b"three"]
    assert splitter.pending == b""


def test_splitter_keeps_head_and_tail_of_an_oversize_line() -> None:
    splitter = LineSplitter(max_line=100)
    long = b"H" * 50 + b"x" * 10_000 + b"T" * 50
    out = splitter.feed(long[:3000]) + splitter.feed(long[3000:] + b"\nnext\n")
    assert isinstance(out[0], Oversize)
    assert out[0].size == len(long)
    assert out[0].head.startswith(b"H" * 50)
    assert out[0].tail.endswith(b"T" * 50)
    assert out[1] == b"next"


def test_kind_of_reads_prefixes_and_falls_back_to_json() -> None:
    assert kind_of(match_line("a", 1, "x\n")) == "match"
    assert kind_of(b'{"type":"begin","data":{}}') == "begin"
    assert kind_of(b'{"data":{"stats":{}},"type":"summary"}') == "summary"
    assert kind_of(b"not json") == "other"


def test_parse_decodes_base64_paths_and_lines() -> None:
    raw_path = b"bad\xffname.txt"
    event = {
        "type": "match",
        "data": {
            "path": {"bytes": base64.b64encode(raw_path).decode()},
            "lines": {"bytes": base64.b64encode(b"caf\xe9 x\n").decode()},
            "line_number": 3,
            "absolute_offset": 0,
            "submatches": [{"match": {"text": "x"}, "start": 5, "end": 6}],
        },
    }
    parsed = parse(json.dumps(event).encode())
    assert parsed.path == raw_path
    assert parsed.lines == b"caf\xe9 x\n"
    assert parsed.line == 3
    assert parsed.submatch_starts == (5,)
    assert show(parsed.lines) == "caf\ufffd x\n"


def test_parse_oversize_recovers_path_and_line_number() -> None:
    line = match_line('dir/we"ird.js', 42, "y" * 5000 + "x\n", start=5000)
    splitter = LineSplitter(max_line=200)
    (item,) = splitter.feed(line + b"\n")
    assert isinstance(item, Oversize)
    event = parse(item)
    assert event.kind == "match"
    assert event.path == b'dir/we"ird.js'
    assert event.line == 42
    assert event.oversize == len(line)


def test_data_bytes_handles_both_encodings() -> None:
    assert data_bytes({"text": "é"}) == "é".encode()
    assert data_bytes({"bytes": base64.b64encode(b"\xff").decode()}) == b"\xff"
    assert data_bytes(None) == b""


def test_sort_key_orders_like_a_directory_walk() -> None:
    paths = [b"a+", b"a/b", b"a-b", b"a.b", b"./a/a", b"B", b"a/b/c", b"\xc3\xa9"]
    ordered = sorted(paths, key=sort_key)
    assert ordered == [b"B", b"./a/a", b"a/b", b"a/b/c", b"a+", b"a-b", b"a.b", b"\xc3\xa9"]
    assert clean_path(b"./x/y") == b"x/y"


def test_begin_path_fast_and_slow() -> None:
    plain = b'{"type":"begin","data":{"path":{"text":"./src/a b.py"}}}'
    escaped = json.dumps({"type": "begin", "data": {"path": {"text": 'we"ird\\name'}}}).encode()
    raw = json.dumps(
        {"type": "begin", "data": {"path": {"bytes": base64.b64encode(b"x\xff").decode()}}}
    ).encode()
    assert begin_path(plain) == b"./src/a b.py"
    assert begin_path(escaped) == b'we"ird\\name'
    assert begin_path(raw) == b"x\xff"


@given(st.lists(rgjson.paths, max_size=20))
def test_sort_keys_of_a_whole_listing_equal_sort_key_path_by_path(paths: list[bytes]) -> None:
    cleaned = [clean_path(p) for p in paths]
    keys = sort_keys(b"".join(p + b"\0" for p in cleaned))
    assert keys == [sort_key(p) for p in cleaned]
    assert [path_of_key(k) for k in keys] == cleaned
    # the order is rg's: names compared bytewise, directory by directory ("/" before any byte)
    by_walk = sorted(cleaned, key=lambda p: p.split(b"/"))
    assert [path_of_key(k) for k in sorted(keys)] == by_walk


@given(rgjson.paths)
def test_begin_path_agrees_with_a_full_parse(path: bytes) -> None:
    line = rgjson.begin(path).rstrip(b"\n")
    assert begin_path(line) == data_bytes(json.loads(line)["data"]["path"]) == path


@given(
    kind=st.sampled_from(["match", "context"]),
    path=rgjson.paths,
    number=st.integers(min_value=1, max_value=10**9),
    text=rgjson.texts,
    starts=st.lists(st.integers(min_value=0, max_value=100), max_size=3),
)
def test_parse_agrees_with_json_loads(
    kind: str, path: bytes, number: int, text: bytes, starts: list[int]
) -> None:
    line = rgjson.lines_event(kind, path, number, text, starts).rstrip(b"\n")
    event = parse(line)
    reference = json.loads(line)["data"]
    assert event.kind == kind
    assert event.path == data_bytes(reference["path"]) == path
    assert event.lines == data_bytes(reference["lines"]) == text
    assert event.line == number
    assert event.submatch_starts == tuple(starts)


@given(
    text=st.one_of(rgjson.texts, st.text(max_size=30).map(str.encode)),
    starts=st.lists(st.integers(min_value=0, max_value=40), max_size=3).map(sorted),
    max_chars=st.integers(min_value=1, max_value=12),
)
def test_match_text_from_the_decoded_string_equals_from_the_bytes(
    text: bytes, starts: list[int], max_chars: int
) -> None:
    # one ASCII line is shown straight from the JSON string; everything else from the bytes
    event = parse(rgjson.lines_event("match", b"a.py", 3, text + b"\n", starts).rstrip(b"\n"))
    assert match_text(event, max_chars) == match_text(replace(event, text=None), max_chars)
