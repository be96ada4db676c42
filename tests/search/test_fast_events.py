"""The fast decoding of match and context events must give what the general one (``parse``,
then ``match_text`` or ``line_text``) gives, for every line; and whole pages built with it, fed
or replayed from synthetic and from real rg output, must equal pages built without it."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.search import paging
from servers.search.events import fast_context, fast_match, line_text, match_text, parse
from servers.search.paging import ContentPage, UnorderedBuffer
from servers.search.rg import Filters, GrepRun, Pattern, find_rg, grep_argv
from tests.search import rgjson
from tests.search.conftest import write

# --- one event line -----------------------------------------------------------------------

PIECES = st.sampled_from(
    [
        *("a", "Z", "0", " ", "\t", "\\", '"', "\\n", "\\u0041", "/", "{", "}", ","),
        *("é", "日本", "😀", "\u2028", "\ufeff", "\ud800", "\udfff"),  # lone surrogates too
        *("\x00", "\x01", "\x1b", "\x7f", "\r"),
    ]
)
one_line = st.one_of(
    st.lists(PIECES, max_size=12).map("".join),
    st.text(max_size=30),
    # over the 500-character cut, with something to cut around
    st.tuples(st.sampled_from(["x", "é", "\t"]), st.integers(400, 1200), st.text(max_size=8)).map(
        lambda t: t[0] * t[1] + t[2]
    ),
)
texts = st.tuples(
    st.lists(one_line, min_size=1, max_size=3),
    st.sampled_from(["\n", "\r\n", "", "\n\n"]),
).map(lambda t: "\n".join(t[0]) + t[1])
"""What rg sends as ``lines``: usually one line and its ending, sometimes several (a
multiline match) or none."""

SUBMATCH_TEXTS = st.sampled_from([{"text": "m"}, {"text": 'q"\\'}, {"bytes": "/w=="}])

MUTATIONS = [
    "none",
    "spaces",  # json.dumps' default separators: valid, not rg's layout
    "keys reordered",
    "extra key",
    "no absolute_offset",
    "no submatches",
    "line_number null",
    "line_number float",
    "line_number with leading zero",  # not JSON: parse raises
    "raw control character",  # not JSON: parse raises
    "raw control character in the path",  # not JSON: parse raises
    "bad escape",  # not JSON: parse raises
    "trailing space",  # valid: ``parse`` strips it
    "truncated",  # not JSON: parse raises
    "start missing",  # parse raises KeyError
]


@st.composite
def event_lines(draw: st.DrawFn, kind: str) -> tuple[bytes, bool]:
    """A match or context event line and whether it has the usual shape (one line of text in
    rg's layout with its first submatch on that line), which the fast path must take."""
    raw_path = draw(rgjson.paths)
    path = draw(st.sampled_from([b"", b"./", b"././"])) + raw_path
    as_bytes = draw(st.booleans())
    lines: dict[str, str]
    if as_bytes:
        raw_text = draw(rgjson.texts) + b"\n"
        lines = rgjson.data(raw_text)
        text = None
    else:
        text = draw(texts)
        lines = {"text": text}
    encoded = (text or "").encode("utf-8", "surrogatepass")
    starts: list[int] = []
    if kind == "match":
        starts = draw(st.lists(st.integers(0, len(encoded) + 3), max_size=4))
        if draw(st.booleans()):
            starts.sort()
    subs = [{"match": draw(SUBMATCH_TEXTS), "start": s, "end": s + 1} for s in starts]
    number = draw(st.one_of(st.integers(0, 10**6), st.integers(10**17, 10**20)))
    data: dict[str, Any] = {
        "path": rgjson.data(path),
        "lines": lines,
        "line_number": number,
        "absolute_offset": draw(st.integers(0, 10**9)),
        "submatches": subs,
    }
    mutation = draw(st.one_of(st.just("none"), st.sampled_from(MUTATIONS)))
    if mutation == "keys reordered":
        data = {k: data[k] for k in reversed(data)}
    elif mutation == "extra key":
        data["extra"] = [1, {"type": "match"}]
    elif mutation == "no absolute_offset":
        del data["absolute_offset"]
    elif mutation == "no submatches":
        del data["submatches"]
    elif mutation == "line_number null":
        data["line_number"] = None
    elif mutation == "line_number float":
        data["line_number"] = float(number)
    elif mutation == "start missing" and subs:
        del subs[-1]["start"]
    separators = (", ", ": ") if mutation == "spaces" else (",", ":")
    ensure_ascii = draw(st.booleans())  # \u escapes (surrogate pairs too), or rg's raw UTF-8
    line = json.dumps(
        {"type": kind, "data": data}, separators=separators, ensure_ascii=ensure_ascii
    ).encode("utf-8", "surrogatepass")
    if mutation == "line_number with leading zero":
        line = line.replace(b'"line_number":', b'"line_number":0', 1)
    elif mutation == "raw control character":
        at = line.index(b'"lines":{"') + 18
        line = line[:at] + b"\x01" + line[at:]
    elif mutation == "raw control character in the path":
        line = line.replace(b'"path":{"text":"', b'"path":{"text":"\x1f', 1)
    elif mutation == "bad escape":
        line = line.replace(b'"lines":{"text":"', b'"lines":{"text":"\\x', 1)
    elif mutation == "trailing space":
        line += b" "
    elif mutation == "truncated":
        line = line[: draw(st.integers(0, len(line) - 1))]
    single = text is not None and "\n" not in text.rstrip("\n")
    usual = (
        mutation == "none"
        and single
        and "text" in data["path"]
        and number < 10**18
        and (not starts or starts[0] <= len(encoded.rstrip(b"\n")))
    )
    return line, usual


def outcome(decode: Callable[[], Any]) -> Any:
    """What a decoder gives, or the kind of error it raises (the general one raises on lines
    that are not JSON, or JSON without the fields it reads)."""
    try:
        return decode()
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return type(error)


@settings(max_examples=500)
@given(event_lines("match"), st.sampled_from([500, 40, 7, 1]))
def test_fast_match_gives_what_parse_and_match_text_give(
    line_and_usual: tuple[bytes, bool], max_chars: int
) -> None:
    line, usual = line_and_usual

    def general() -> tuple[int | None, str, int | None]:
        event = parse(line)
        return (event.line, *match_text(event, max_chars))

    fast = fast_match(line, max_chars)
    assert fast is not None or not usual
    if fast is not None:
        assert fast == outcome(general)


@settings(max_examples=300)
@given(event_lines("context"), st.sampled_from([500, 40, 7, 1]))
def test_fast_context_gives_what_parse_and_line_text_give(
    line_and_usual: tuple[bytes, bool], max_chars: int
) -> None:
    line, usual = line_and_usual

    def general() -> tuple[int, str]:
        event = parse(line)
        return event.line or 0, line_text(event.lines, max_chars)

    fast = fast_context(line, max_chars)
    assert fast is not None or not usual
    if fast is not None:
        assert fast == outcome(general)


def general_match(line: bytes, max_chars: int = 500) -> Any:
    def decode() -> tuple[int | None, str, int | None]:
        event = parse(line)
        return (event.line, *match_text(event, max_chars))

    return outcome(decode)


PLAIN = rgjson.lines_event("match", b"./a.py", 3, b"x = 1\n", [4]).rstrip(b"\n")


@pytest.mark.parametrize(
    "line",
    [
        PLAIN.replace(b'"line_number":3', b'"line_number":03'),
        PLAIN.replace(b'"absolute_offset":0', b'"absolute_offset":00'),
        PLAIN.replace(b'"end":5', b'"end":05'),
        PLAIN.replace(b'"text":"x', b'"text":"\x01x'),
        PLAIN.replace(b'"text":"./a', b'"text":"\x1f./a'),
        PLAIN.replace(b'"text":"m"', b'"text":"\x02m"'),
        PLAIN.replace(b'"text":"x', b'"text":"\\x'),
        PLAIN.replace(b'"text":"./a', b'"text":"\\q./a'),
        PLAIN.replace(b'"text":"m"', b'"text":"\\u12"'),
        PLAIN.replace(b"x = 1", b"x \xff 1"),
        PLAIN.replace(b'"./a.py"', b'"./\xff.py"'),
        PLAIN + b"}",
        PLAIN[:-1],
    ],
)
def test_lines_that_are_not_json_or_miss_fields_are_left_to_parse(line: bytes) -> None:
    assert fast_match(line, 500) is None
    assert isinstance(general_match(line), type)  # parse raises


@pytest.mark.parametrize(
    "line",
    [
        PLAIN + b" ",
        PLAIN.replace(b',"end":5', b""),
        PLAIN.replace(b'"start":4', b'"start":-4'),
        PLAIN.replace(b'"start":4', b'"start":4.0'),
        PLAIN.replace(b'"line_number":3', b'"line_number":3e0'),
        PLAIN.replace(b'"line_number":3', b'"line_number":null'),
        PLAIN.replace(b'"line_number":3', b'"line_number":' + b"9" * 30),
        PLAIN.replace(b'{"text":"./a.py"}', b'{"bytes":"Li9hLnB5"}'),
        PLAIN.replace(b'"type":"match",', b'"type":"match" ,'),
        PLAIN.replace(
            b'"line_number":3,"absolute_offset":0', b'"absolute_offset":0,"line_number":3'
        ),
    ],
)
def test_json_in_another_shape_is_left_to_parse(line: bytes) -> None:
    assert fast_match(line, 500) is None
    assert not isinstance(general_match(line), type)


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("café x\n", [6]),  # the column counts characters, the start bytes
        ("café\n", [6]),  # the match starts past the line: no column
        ("café\n", [9, 0]),
        ('é\t\x00 \\ "q"\r\n', [3]),
        ("\ud800 lone\n", [4]),
        ("日" * 400 + "needle" + "日" * 400 + "\n", [1200]),
        ("x" * 900 + "needle\n", [900, 3, 0]),
        ("x" * 900 + "needle\n", [907]),
        ("", []),
        ("\n", [0]),
        ("\r\n", [1]),
    ],
)
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_fast_match_examples(text: str, starts: list[int], ensure_ascii: bool) -> None:
    subs = [{"match": {"text": "m"}, "start": s, "end": s + 1} for s in starts]
    event = {
        "type": "match",
        "data": {
            "path": {"text": "./a.py"},
            "lines": {"text": text},
            "line_number": 7,
            "absolute_offset": 0,
            "submatches": subs,
        },
    }
    line = json.dumps(event, separators=(",", ":"), ensure_ascii=ensure_ascii)
    item = line.encode("utf-8", "surrogatepass")
    for max_chars in (500, 30, 1):
        fast = fast_match(item, max_chars)
        assert fast is None or fast == general_match(item, max_chars)


def test_fast_paths_leave_what_they_cannot_read_to_parse() -> None:
    plain = rgjson.lines_event("match", b"a.py", 3, b"x = 1\n", [4]).rstrip(b"\n")
    assert fast_match(plain, 500) == (3, "x = 1", 5)
    base64_lines = rgjson.lines_event("match", b"a.py", 3, b"caf\xe9\n", [0]).rstrip(b"\n")
    assert b'"bytes"' in base64_lines
    assert fast_match(base64_lines, 500) is None
    two_lines = rgjson.lines_event("match", b"a.py", 3, b"a\nb\n", [0, 2]).rstrip(b"\n")
    assert fast_match(two_lines, 500) is None
    many = rgjson.lines_event("match", b"a.py", 3, b"m" * 300 + b"\n", list(range(300)))
    assert fast_match(many.rstrip(b"\n"), 500) is None  # long submatch lists go to json.loads
    oversize = paging.Oversize(plain[:20], plain[-20:], 5 << 20)
    assert fast_match(oversize, 500) is None and fast_context(oversize, 500) is None
    assert fast_context(plain.replace(b"match", b"context", 1), 500) == (3, "x = 1")


# --- whole pages ------------------------------------------------------------------------------


@contextmanager
def general_only() -> Iterator[None]:
    """Pages decode every event with ``parse``, as they did before the fast paths."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paging, "fast_match", lambda item, max_chars: None)
        patch.setattr(paging, "fast_context", lambda item, max_chars: None)
        yield


def state(page: ContentPage) -> dict[str, Any]:
    """Everything a page reports."""
    return {
        "matches": [asdict(m) for m in page.matches],
        "skipped": page.skipped,
        "more": page.more,
        "cut_by_size": page.cut_by_size,
        "binary_files": page.binary_files,
        "refused": (page.refused.count, page.refused.examples),
        "shown_until": page.shown_until,
        "satisfied": page.satisfied,
    }


def streamed(run: bytes, chunk: int, **options: Any) -> Any:
    def build() -> dict[str, Any]:
        page = ContentPage(**options)
        for i in range(0, len(run), chunk):
            page.feed(run[i : i + chunk])
        return state(page)

    return outcome(build)


def replayed(run: bytes, **options: Any) -> Any:
    def build() -> dict[str, Any]:
        buffer = UnorderedBuffer(cap=10_000)
        buffer.feed(run)
        page = ContentPage(**options)
        buffer.replay(page)
        return state(page)

    return outcome(build)


@st.composite
def runs(draw: st.DrawFn) -> bytes:
    """A whole ``rg --json`` run of a few files, each one's events of every shape above."""
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from([b"", b"./"])) + draw(rgjson.paths)
        out += rgjson.begin(path)
        for line, _ in draw(
            st.lists(st.one_of(event_lines("match"), event_lines("context")), max_size=6)
        ):
            out += line + b"\n"
        out += rgjson.end(path, draw(st.sampled_from([None, None, 9])))
    return out + rgjson.SUMMARY


page_options = st.fixed_dictionaries(
    {
        "offset": st.integers(0, 4),
        "limit": st.integers(1, 8),
        "context": st.integers(0, 3),
        "max_chars": st.sampled_from([60_000, 400]),
        "max_line_chars": st.sampled_from([500, 30]),
        "path_filter": st.sampled_from([None, lambda p: b"a" not in p]),
    }
)


@settings(max_examples=200)
@given(runs(), page_options, st.sampled_from([1 << 16, 97]))
def test_pages_with_fast_paths_equal_pages_without(
    run: bytes, options: dict[str, Any], chunk: int
) -> None:
    fast = streamed(run, chunk, **options), replayed(run, **options)
    with general_only():
        general = streamed(run, chunk, **options), replayed(run, **options)
    assert fast == general


@pytest.fixture
def odd_tree(tmp_path: Path) -> Path:
    """Files with what is hard on a decoder: escapes, non-ASCII, tabs, CRLF, control
    characters, lines far over the cut, text that is not UTF-8, odd names, a binary file."""
    root = tmp_path / "odd"
    rng = random.Random(5)
    samples = [
        'needle = "quoted \\"needle\\" and a backslash \\ here"',
        "\tneedle\tafter a tab",
        "café needle 日本 needle 😀",
        "needle\x01control\x1bcharacters\x7f",
        "x" * 3000 + " needle " + "y" * 2000,
        "needle " * 200,
        "prefix needle\u2028suffix",
        "no match here",
        "",
    ]
    for n in range(24):
        lines = [rng.choice(samples) for _ in range(rng.randint(1, 14))]
        ending = "\r\n" if n % 5 == 0 else "\n"
        name = ["f.py", "ü日.txt", 'we"ird\\name.txt', "a b.txt"][n % 4]
        write(root / f"d{n % 3}" / f"{n}{name}", ending.join(lines) + ending)
    write(root / "bytes.txt", b"needle \xff\xfe not utf-8\nplain needle\n")
    (root / b"bad\xffname.txt".decode("utf-8", "surrogateescape")).write_bytes(b"needle\n")
    write(root / "bin.dat", b"needle\nbinary\x00needle\n")
    write(root / "multi.txt", "needle one\nnext line\nneedle two\nnext\n")
    return root


def rg_json(root: Path, pattern: Pattern, context: int, run: GrepRun) -> bytes:
    argv = grep_argv(find_rg(), pattern, Filters(), ".", run, context)
    return subprocess.run(argv, cwd=root, stdout=subprocess.PIPE, check=False).stdout


PAGES = [
    {"offset": 0, "limit": 5},
    {"offset": 0, "limit": 1000},
    {"offset": 3, "limit": 4},
    {"offset": 17, "limit": 20, "max_line_chars": 40},
    {"offset": 0, "limit": 1000, "max_chars": 3000},
    {"offset": 60, "limit": 1000},
]


@pytest.mark.parametrize(
    "pattern",
    [
        Pattern("needle"),
        Pattern("NEEDLE", "insensitive"),
        Pattern(r"needle\s*\n\w+", multiline=True),
    ],
    ids=["plain", "insensitive", "multiline"],
)
@pytest.mark.parametrize("context", [0, 1, 3])
def test_replayed_real_runs_equal_the_general_decoding_and_a_sorted_run(
    odd_tree: Path, pattern: Pattern, context: int
) -> None:
    unordered = rg_json(odd_tree, pattern, context, "json")
    in_order = rg_json(odd_tree, pattern, context, "json-sorted")
    events = unordered.split(b"\n")
    matches = [line for line in events if line.startswith(b'{"type":"match"')]
    assert len(matches) > 10
    if not pattern.multiline:  # (a match over several lines is always left to parse)
        assert sum(fast_match(line, 500) is not None for line in matches) > len(matches) / 2
    for sizes in PAGES:
        page = {**sizes, "context": context}
        fast = replayed(unordered, **page)
        assert isinstance(fast, dict), fast
        with general_only():
            assert replayed(unordered, **page) == fast
            assert streamed(in_order, 4096, **page) == fast
        assert streamed(in_order, 4096, **page) == fast
