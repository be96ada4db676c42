"""read_slice and render_slice: numbered lines from any part of a file, without reading the rest."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from servers.files import reading
from servers.files.reading import (
    MAX_LINE_CHARS,
    NotTextError,
    read_slice,
    render_slice,
    sniff_kind,
)


def write(tmp_path: Path, data: bytes | str, name: str = "f.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def lines_file(tmp_path: Path, n: int) -> Path:
    return write(tmp_path, "".join(f"line {i}\n" for i in range(1, n + 1)))


# --- slicing ----------------------------------------------------------------------------------


def test_whole_small_file(tmp_path: Path) -> None:
    s = read_slice(lines_file(tmp_path, 3))
    assert s.lines == ["line 1", "line 2", "line 3"]
    assert (s.first_line, s.more, s.next_offset, s.encoding, s.line_endings) == (
        1,
        False,
        None,
        "utf-8",
        "lf",
    )
    assert s.notes == []


def test_offset_is_one_indexed_and_limit_counts_lines(tmp_path: Path) -> None:
    s = read_slice(lines_file(tmp_path, 10), offset=4, limit=3)
    assert s.lines == ["line 4", "line 5", "line 6"]
    assert s.first_line == 4
    assert s.more and s.next_offset == 7


def test_exact_fit_has_no_more(tmp_path: Path) -> None:
    s = read_slice(lines_file(tmp_path, 10), offset=8, limit=3)
    assert s.lines == ["line 8", "line 9", "line 10"]
    assert not s.more and s.next_offset is None


def test_last_line_alone(tmp_path: Path) -> None:
    assert read_slice(lines_file(tmp_path, 10), offset=10).lines == ["line 10"]


@pytest.mark.parametrize("text", ["a\nb\n", "a\nb"])
def test_offset_past_the_end(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=r"offset 3 is past the end of the file \(2 lines\)"):
        read_slice(path, offset=3)
    with pytest.raises(ValueError, match="use an offset between 1 and 2"):
        read_slice(path, offset=1000)


def test_file_without_final_newline(tmp_path: Path) -> None:
    path = write(tmp_path, "first\nsecond")
    assert read_slice(path).lines == ["first", "second"]
    assert read_slice(path, offset=2).lines == ["second"]


def test_empty_lines_are_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "\n\nx\n\n")
    assert read_slice(path).lines == ["", "", "x", ""]
    assert read_slice(path, offset=4).lines == [""]


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, b"")
    s = read_slice(path)
    assert s.lines == [] and not s.more
    assert render_slice(s, "f.txt") == "(empty file)"
    with pytest.raises(ValueError, match="past the end"):
        read_slice(path, offset=2)


@pytest.mark.parametrize(("offset", "limit"), [(0, 10), (-1, 10), (1, 0)])
def test_invalid_arguments(tmp_path: Path, offset: int, limit: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        read_slice(lines_file(tmp_path, 3), offset=offset, limit=limit)


def test_skipping_crosses_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "CHUNK", 7)
    path = lines_file(tmp_path, 500)
    s = read_slice(path, offset=377, limit=5)
    assert s.lines == [f"line {i}" for i in range(377, 382)]


# --- long lines -------------------------------------------------------------------------------


def test_long_line_is_cut_with_a_marker(tmp_path: Path) -> None:
    long = "x" * (MAX_LINE_CHARS + 500)
    s = read_slice(write(tmp_path, f"short\n{long}\nafter\n"))
    assert s.lines[0] == "short"
    assert s.lines[1] == "x" * MAX_LINE_CHARS + "[... line cut: 500 more chars]"
    assert s.lines[2] == "after"
    assert any("longer than" in n and "were cut" in n for n in s.notes)


def test_huge_line_is_skipped_not_read(tmp_path: Path) -> None:
    """A 5 MB minified line: the rest is skipped in bytes, and the next line is still found."""
    huge = "y" * 5_000_000
    s = read_slice(write(tmp_path, f"{huge}\nnext\n"))
    assert s.lines[0].startswith("y" * MAX_LINE_CHARS + "[... line cut: ")
    assert s.lines[0].endswith(f"{5_000_000 - MAX_LINE_CHARS} more bytes]")
    assert s.lines[1] == "next"
    assert s.line_endings == "lf"


def test_huge_line_byte_count_is_in_bytes(tmp_path: Path) -> None:
    huge = "é" * 10_000  # 20,000 bytes
    s = read_slice(write(tmp_path, huge + "\n"))
    kept = "é" * MAX_LINE_CHARS
    assert s.lines[0] == f"{kept}[... line cut: {20_000 - 2 * MAX_LINE_CHARS} more bytes]"


def test_line_exactly_at_the_read_cap_is_whole(tmp_path: Path) -> None:
    """A line whose bytes fill the read exactly, with CRLF after it, is complete: no marker."""
    line = "😀" * MAX_LINE_CHARS  # 4 bytes each: exactly MAX_LINE_BYTES
    s = read_slice(write(tmp_path, f"{line}\r\n{line}\nend\r\n"))
    assert s.lines == [line, line, "end"]
    assert s.notes == []
    assert s.line_endings == "mixed"


# --- encodings and endings --------------------------------------------------------------------


def test_invalid_utf8_is_replaced_and_noted(tmp_path: Path) -> None:
    s = read_slice(write(tmp_path, b"good\nbad \xff\xfe here\nalso \xc3 bad\n"))
    assert s.lines == ["good", "bad \ufffd\ufffd here", "also \ufffd bad"]
    assert any("2 line(s) are not valid UTF-8" in n and "U+FFFD" in n for n in s.notes)


def test_latin1_file_reads_with_replacements(tmp_path: Path) -> None:
    s = read_slice(write(tmp_path, "café\n".encode("latin-1")))
    assert s.lines == ["caf\ufffd"]
    assert s.notes


def test_crlf(tmp_path: Path) -> None:
    s = read_slice(write(tmp_path, b"a\r\nb\r\nc"))
    assert s.lines == ["a", "b", "c"]
    assert s.line_endings == "crlf"
    text = render_slice(s, "f.txt")
    assert "line endings: CRLF" in text
    assert "\r" not in text


def test_mixed_endings(tmp_path: Path) -> None:
    s = read_slice(write(tmp_path, b"a\r\nb\nc\r\n"))
    assert s.lines == ["a", "b", "c"]
    assert s.line_endings == "mixed"


def test_lone_cr_is_not_a_line_break(tmp_path: Path) -> None:
    """Line numbers agree with grep, sed and our patch tool: only \\n ends a line."""
    s = read_slice(write(tmp_path, b"progress 1%\rprogress 2%\ndone\n"))
    assert s.lines == ["progress 1%\rprogress 2%", "done"]


def test_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF8 + b"first\nsecond\n")
    s = read_slice(path)
    assert s.lines == ["first", "second"]
    assert s.encoding == "utf-8-sig"
    assert any("byte-order mark" in n for n in s.notes)
    assert read_slice(path, offset=2).lines == ["second"]


def test_bom_only_file_has_no_lines(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF8)
    assert read_slice(path).lines == []
    with pytest.raises(ValueError, match=r"\(0 lines\)"):
        read_slice(path, offset=2)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_bom(tmp_path: Path, encoding: str) -> None:
    bom = {"utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    text = "héllo\r\nwörld\r\nlast\r\n"
    path = write(tmp_path, bom + text.encode(encoding))
    s = read_slice(path)
    assert s.lines == ["héllo", "wörld", "last"]
    assert s.encoding in ("utf-16", "utf-32")
    assert s.line_endings == "crlf"
    assert any("BOM" in n for n in s.notes)
    s2 = read_slice(path, offset=2, limit=1)
    assert s2.lines == ["wörld"] and s2.next_offset == 3
    with pytest.raises(ValueError, match="past the end"):
        read_slice(path, offset=9)


# --- binary files -----------------------------------------------------------------------------


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "JPEG image"),
        (b"GIF89a" + b"\x01" * 100, "GIF image"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "WebP image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document"),
        (_zip_bytes(), "ZIP archive"),
        (gzip.compress(b"hello"), "gzip archive"),
        (bz2.compress(b"hello"), "bzip2 archive"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "ELF executable"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "SQLite database"),
        (b"some text\x00with a NUL", "binary data (contains NUL bytes)"),
    ],
)
def test_binary_files_are_refused_with_size_and_type(
    tmp_path: Path, data: bytes, kind: str
) -> None:
    path = write(tmp_path, data, "blob.bin")
    with pytest.raises(NotTextError) as info:
        read_slice(path)
    message = str(info.value)
    assert kind in message
    assert f"{len(data)} B" in message
    assert "blob.bin is a binary file" in message


def test_binary_size_is_human_readable(tmp_path: Path) -> None:
    path = write(tmp_path, b"\x7fELF" + b"\x00" * (3 << 20), "prog")
    with pytest.raises(NotTextError, match=r"ELF executable, 3\.0 MB"):
        read_slice(path)


@pytest.mark.parametrize("start", ["MZ is a magic number\n", "BZh is bzip2's magic\n", "BZh91A\n"])
def test_text_that_starts_like_a_magic_number_is_text(tmp_path: Path, start: str) -> None:
    s = read_slice(write(tmp_path, start + "more text\n"))
    assert s.lines == [start.rstrip("\n"), "more text"]


def test_sniff_kind_text_and_boms() -> None:
    assert sniff_kind(b"plain text") is None
    assert sniff_kind(b"") is None
    assert sniff_kind(codecs.BOM_UTF16_LE + "hi".encode("utf-16-le")) is None  # has NULs


# --- rendering --------------------------------------------------------------------------------


def test_render_numbers_lines_with_aligned_width(tmp_path: Path) -> None:
    s = read_slice(lines_file(tmp_path, 12), offset=8, limit=5)
    text = render_slice(s, "src/f.txt")
    body = text.split("\n\n")[0].splitlines()
    assert body == [" 8\tline 8", " 9\tline 9", "10\tline 10", "11\tline 11", "12\tline 12"]
    assert "more lines follow" not in text


def test_render_says_how_to_continue(tmp_path: Path) -> None:
    s = read_slice(lines_file(tmp_path, 100), offset=11, limit=10)
    text = render_slice(s, "src/f.txt")
    assert "showing lines 11-20; more lines follow" in text
    assert "read_file(path='src/f.txt', offset=21)" in text


def test_render_shows_notes(tmp_path: Path) -> None:
    s = read_slice(write(tmp_path, b"bad \xff\n"))
    assert "[1 line(s) are not valid UTF-8" in render_slice(s, "f.txt")


# --- hypothesis: read_slice against a plain reference ----------------------------------------

LINE_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\x00\ufeff"), max_size=12
)
LINE_BYTES = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
LINE_BYTES = LINE_BYTES.map(lambda b: b.replace(b"\x00", b"."))


@st.composite
def files(draw: st.DrawFn, *, invalid: bool = True) -> bytes:
    """File contents: unicode or arbitrary-byte lines, LF or CRLF each, maybe a final newline
    and a UTF-8 byte-order mark."""
    line = (
        st.one_of(LINE_TEXT.map(str.encode), LINE_BYTES) if invalid else LINE_TEXT.map(str.encode)
    )
    lines = draw(st.lists(line, max_size=25))
    endings = [draw(st.sampled_from([b"\n", b"\r\n"])) for _ in lines]
    data = b"".join(c + e for c, e in zip(lines, endings, strict=True))
    if lines and draw(st.booleans()):
        data = data[: -len(endings[-1])]  # no final newline
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    return data


def reference(data: bytes) -> tuple[list[str], list[bytes]]:
    """Lines as displayed and their endings, by the plainest means: split on newlines."""
    data = data.removeprefix(codecs.BOM_UTF8)
    pieces = data.split(b"\n")
    lines, endings = [], []
    for piece in pieces[:-1]:
        crlf = piece.endswith(b"\r")
        lines.append(piece.removesuffix(b"\r").decode("utf-8", errors="replace"))
        endings.append(b"\r\n" if crlf else b"\n")
    if pieces[-1]:
        lines.append(pieces[-1].decode("utf-8", errors="replace"))
        endings.append(b"")
    return lines, endings


def expected_endings(endings: list[bytes]) -> str:
    crlf, lf = endings.count(b"\r\n"), endings.count(b"\n")
    return "crlf" if crlf and not lf else "mixed" if crlf and lf else "lf"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("hypothesis") / "sample.txt"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=files(),
    offset=st.integers(min_value=1, max_value=30),
    limit=st.integers(min_value=1, max_value=30),
    chunk=st.one_of(st.integers(min_value=1, max_value=9), st.just(1 << 20)),
)
@example(data=b"a\r\nb", offset=2, limit=1, chunk=1)
@example(data=codecs.BOM_UTF8, offset=2, limit=1, chunk=1)
def test_read_slice_matches_reference(
    scratch: Path, data: bytes, offset: int, limit: int, chunk: int
) -> None:
    assume(sniff_kind(data[: reading.SNIFF_BYTES]) is None)  # e.g. a line that starts "%PDF-"
    scratch.write_bytes(data)
    lines, endings = reference(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reading, "CHUNK", chunk)
        if offset > 1 and offset > len(lines):
            with pytest.raises(ValueError, match=rf"past the end of the file \({len(lines)} lines"):
                read_slice(scratch, offset, limit)
            return
        s = read_slice(scratch, offset, limit)
    want = lines[offset - 1 : offset - 1 + limit]
    assert s.lines == want
    assert s.first_line == offset
    assert s.more == (offset - 1 + limit < len(lines))
    assert s.next_offset == (offset + limit if s.more else None)
    assert s.line_endings == expected_endings(endings[offset - 1 : offset - 1 + limit])
    invalid = any("\ufffd" in line for line in want)
    assert any("not valid UTF-8" in n for n in s.notes) == invalid


@settings(max_examples=300, deadline=None)
@given(
    data=files(invalid=False),
    offset=st.integers(min_value=1, max_value=10),
    chunk=st.one_of(st.integers(min_value=1, max_value=9), st.just(1 << 20)),
)
@example(data=b"\xf0\x9f\x98\x80" * 8 + b"\r\nnext", offset=1, chunk=1)
@example(data=b"x" * 31 + b"\r\nnext", offset=1, chunk=3)
@example(data=b"x" * 33 + b"\r\nnext", offset=1, chunk=1)
def test_long_lines_against_reference(scratch: Path, data: bytes, offset: int, chunk: int) -> None:
    """Tiny line caps so cut lines, the read cap and chunk edges meet often."""
    max_chars, max_bytes = 4, 16
    scratch.write_bytes(data)
    lines, endings = reference(data)
    raw = data.removeprefix(codecs.BOM_UTF8).split(b"\n")
    assume(offset == 1 or offset <= len(lines))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reading, "CHUNK", chunk)
        mp.setattr(reading, "MAX_LINE_CHARS", max_chars)
        mp.setattr(reading, "MAX_LINE_BYTES", max_bytes)
        s = read_slice(scratch, offset, 1000)
    want = []
    for line, content in zip(lines, raw, strict=False):
        content = content.removesuffix(b"\r")
        if len(content) > max_bytes:
            kept = line[:max_chars]
            want.append(f"{kept}[... line cut: {len(content) - len(kept.encode())} more bytes]")
        elif len(line) > max_chars:
            want.append(f"{line[:max_chars]}[... line cut: {len(line) - max_chars} more chars]")
        else:
            want.append(line)
    assert s.lines == want[offset - 1 :]
    assert s.line_endings == expected_endings(endings[offset - 1 :])
    assert not any("not valid UTF-8" in n for n in s.notes)
