"""Output limits: head + tail, and a marker that says exactly what was cut."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servers.common.limits import (
    HeadTailBuffer,
    clip,
    count_lines,
    cut_line,
    format_size,
    omission_marker,
)

MARKER = re.compile(r"\[\.\.\. (\d+) lines \(([^)]+)\) omitted(?:; ([^\]]*))? \.\.\.\]")


def numbered(n: int) -> str:
    return "".join(f"line {i}\n" for i in range(1, n + 1))


def marker_of(text: str) -> re.Match[str]:
    match = MARKER.search(text)
    assert match is not None, text
    return match


# --- count_lines / format_size / marker -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lines"),
    [("", 0), ("a", 1), ("a\n", 1), ("a\nb", 2), ("a\nb\n", 2), ("\n", 1), ("\n\n", 2)],
)
def test_count_lines(text: str, lines: int) -> None:
    assert count_lines(text) == lines


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (9318, "9.1 KB"),
        (3 << 20, "3.0 MB"),
        (1 << 30, "1.0 GB"),
        (5 << 40, "5120.0 GB"),
    ],
)
def test_format_size(size: int, shown: str) -> None:
    assert format_size(size) == shown


def test_omission_marker_states_lines_bytes_and_hint() -> None:
    assert omission_marker(120, 9318) == "[... 120 lines (9.1 KB) omitted ...]"
    assert (
        omission_marker(3, 10, "call again with offset=40")
        == "[... 3 lines (10 B) omitted; call again with offset=40 ...]"
    )


# --- clip -------------------------------------------------------------------------------------


def test_clip_leaves_short_text_alone() -> None:
    text = numbered(10)
    c = clip(text, max_bytes=10_000, max_lines=10)
    assert c.text == text
    assert not c.truncated
    assert (c.total_lines, c.omitted_lines, c.omitted_bytes) == (10, 0, 0)


def test_clip_by_lines_keeps_head_and_tail() -> None:
    text = numbered(100)
    c = clip(text, max_bytes=1_000_000, max_lines=10, hint="use offset")
    lines = c.text.splitlines()
    assert lines[:5] == [f"line {i}" for i in range(1, 6)]
    assert lines[-5:] == [f"line {i}" for i in range(96, 101)]
    m = marker_of(c.text)
    assert int(m.group(1)) == 90 == c.omitted_lines
    assert m.group(3) == "use offset"
    omitted_text = "".join(f"line {i}\n" for i in range(6, 96))
    assert c.omitted_bytes == len(omitted_text)
    assert c.total_lines == 100 and c.total_bytes == len(text)
    assert c.truncated


def test_clip_by_bytes_keeps_whole_lines() -> None:
    text = numbered(1000)
    c = clip(text, max_bytes=200)
    head, _, tail = c.text.partition(marker_of(c.text).group(0))
    kept = head + tail.removeprefix("\n")
    assert len(kept.encode()) <= 200
    assert head.startswith("line 1\n") and tail.endswith("line 1000\n")
    for line in kept.splitlines():
        assert re.fullmatch(r"line \d+", line), line
    kept_count = len(kept.splitlines())
    assert c.omitted_lines == 1000 - kept_count
    assert c.omitted_bytes == len(text) - len(kept.encode())


def test_clip_one_enormous_line_shows_both_ends() -> None:
    text = "A" * 50 + "m" * 10_000 + "Z" * 50
    c = clip(text, max_bytes=100)
    assert c.text.startswith("A" * 50)
    assert c.text.endswith("Z" * 50)
    assert c.omitted_bytes == 10_000
    assert "(9.8 KB) omitted" in c.text


def test_clip_never_splits_a_character() -> None:
    text = "é" * 1000  # two bytes each
    c = clip(text, max_bytes=101)
    assert "\ufffd" not in c.text
    assert set(c.text.replace(marker_of(c.text).group(0), "").replace("\n", "")) == {"é"}


@pytest.mark.parametrize("separator", ["\r", "\x0c", "\u2028", "\x0b", "\x1c", "\x85"])
def test_clip_counts_only_newlines_as_line_breaks(separator: str) -> None:
    """Progress bars print ``\\r``; source files contain form feeds. Neither ends a line, so the
    marker must not claim a negative (or any wrong) number of omitted lines."""
    text = "".join(f"{i}{separator}{i}{separator}{i}\n" for i in range(200))
    c = clip(text, max_bytes=300, max_lines=20)
    m = marker_of(c.text)
    omitted = int(m.group(1))
    shown_lines = c.text.replace(m.group(0) + "\n", "").count("\n")
    assert omitted == c.omitted_lines == 200 - shown_lines
    assert omitted > 0


def test_clip_progress_bar_output() -> None:
    text = "".join(f"\rprogress {i}%" for i in range(101)) + "\ndone\n"
    c = clip(text, max_bytes=100, max_lines=4)
    assert c.omitted_lines >= 0
    assert c.text.endswith("done\n")


@settings(deadline=None)
@given(
    st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=40), max_size=60),
    st.integers(min_value=8, max_value=400),
    st.one_of(st.none(), st.integers(min_value=2, max_value=30)),
)
def test_clip_accounts_for_everything(
    lines: list[str], max_bytes: int, max_lines: int | None
) -> None:
    text = "\n".join(lines)
    c = clip(text, max_bytes=max_bytes, max_lines=max_lines)
    assert c.total_bytes == len(text.encode())
    assert c.total_lines == count_lines(text)
    assert 0 <= c.omitted_lines <= c.total_lines
    assert 0 <= c.omitted_bytes <= c.total_bytes
    if not c.truncated:
        assert c.text == text
    else:
        m = marker_of(c.text)
        assert int(m.group(1)) == c.omitted_lines
        head, _, tail = c.text.partition(m.group(0) + "\n")
        head = head.removesuffix("\n") if not text.startswith(head) else head
        assert text.startswith(head)
        assert text.endswith(tail)


# --- cut_line ---------------------------------------------------------------------------------


def test_cut_line_short_line_unchanged() -> None:
    assert cut_line("abc", 3) == "abc"


def test_cut_line_states_how_much_was_cut() -> None:
    assert cut_line("x" * 100, 10) == "x" * 10 + "[... 90 more chars]"


def test_cut_line_around_keeps_the_match_visible() -> None:
    line = "a" * 1000 + "NEEDLE" + "b" * 1000
    cut = cut_line(line, 40, around=1000)
    assert "NEEDLE" in cut
    before, after = re.fullmatch(r"\[(\d+) chars \.\.\.\](.*)\[\.\.\. (\d+) chars\]", cut).group(
        1, 3
    )  # type: ignore[union-attr]
    assert int(before) + 40 + int(after) == len(line)


def test_cut_line_around_near_the_edges() -> None:
    line = "NEEDLE" + "b" * 100
    assert cut_line(line, 20, around=0) == line[:20] + "[... 86 chars]"
    line = "a" * 100 + "NEEDLE"
    assert cut_line(line, 20, around=100) == "[86 chars ...]" + line[-20:]


# --- HeadTailBuffer ---------------------------------------------------------------------------


def test_buffer_small_output_is_kept_whole() -> None:
    buf = HeadTailBuffer(100, 100)
    buf.feed(b"hello\n")
    buf.feed(b"")
    buf.feed(b"world")
    assert buf.render() == "hello\nworld"
    assert (buf.total_bytes, buf.total_lines, buf.omitted_bytes) == (11, 2, 0)


def test_buffer_memory_is_bounded_and_totals_are_exact() -> None:
    buf = HeadTailBuffer(1000, 1000)
    line = b"0123456789" * 9 + b"abcdefghi\n"  # 100 bytes
    for _ in range(100_000):  # 10 MB through a 2 KB buffer
        buf.feed(line)
    assert len(buf._head) == 1000 and len(buf._tail) == 1000
    assert buf.total_bytes == 10_000_000
    assert buf.total_lines == 100_000
    assert buf.omitted_bytes == 10_000_000 - 2000
    out = buf.render(hint="the full log is in out.txt")
    assert out.startswith(line.decode() * 10)
    assert out.endswith(line.decode())
    m = marker_of(out)
    assert m.group(3) == "the full log is in out.txt"
    shown = out.replace(m.group(0) + "\n", "")
    assert int(m.group(1)) == 100_000 - shown.count("\n")
    assert len(out) < 2200


def test_buffer_counts_a_last_line_without_newline() -> None:
    buf = HeadTailBuffer(4, 4)
    buf.feed(b"a\nb\nc\nd\ne")
    assert buf.total_lines == 5
    buf2 = HeadTailBuffer(4, 4)
    buf2.feed(b"a\nb\nc\nd\ne\n")
    assert buf2.total_lines == 5


def test_buffer_head_only_and_tail_only() -> None:
    head_only = HeadTailBuffer(5, 0)
    head_only.feed(b"abcdefghij")
    assert head_only.render().startswith("abcde\n[... ")
    tail_only = HeadTailBuffer(0, 5)
    tail_only.feed(b"abcdefghij")
    assert tail_only.render().endswith("\nfghij")
    assert "(5 B) omitted" in tail_only.render()


def test_buffer_invalid_utf8_becomes_replacement_characters() -> None:
    buf = HeadTailBuffer(100, 100)
    buf.feed(b"ok \xff\xfe bad\n")
    assert buf.render() == "ok \ufffd\ufffd bad\n"


def test_buffer_character_across_head_and_tail_is_not_broken() -> None:
    buf = HeadTailBuffer(5, 5)
    buf.feed("abcdé".encode())  # é is bytes 5-6: split between head and tail
    buf.feed(b"xyz")
    assert buf.render() == "abcdéxyz"


@settings(deadline=None)
@given(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=300),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=1, max_value=17),
)
def test_buffer_never_invents_replacement_characters(
    text: str, head: int, tail: int, chunk: int
) -> None:
    """Valid UTF-8 stays valid wherever the cuts fall, and the totals add up."""
    data = text.replace("\ufffd", "?").encode()
    buf = HeadTailBuffer(head, tail)
    for i in range(0, len(data), chunk):
        buf.feed(data[i : i + chunk])
    out = buf.render()
    assert "\ufffd" not in out
    assert buf.total_bytes == len(data)
    assert buf.total_lines == count_lines(data.decode())
    if buf.omitted_bytes == 0:
        assert out == data.decode()
    else:
        m = marker_of(out)
        shown = out.replace(m.group(0) + "\n", "", 1)
        assert len(shown.encode()) <= len(data)
        omitted_lines = int(m.group(1))
        assert 0 <= omitted_lines <= data.count(b"\n")
