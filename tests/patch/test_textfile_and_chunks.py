"""Line endings, encodings and final newlines survive an update; context keeps the file's bytes."""

from __future__ import annotations

import codecs

import pytest

from servers.patch.model import Chunk, LineOp, PatchError
from servers.patch.plan import apply_chunks, render_hunks
from servers.patch.textfile import TextFile, decode, new_file


def chunk(*lines: str, **kw: object) -> Chunk:
    body: list[tuple[LineOp, str]] = [(line[0], line[1:]) for line in lines]  # type: ignore[misc]
    return Chunk(tuple(body), **kw)  # type: ignore[arg-type]


def update(data: bytes, *chunks: Chunk) -> bytes:
    return apply_chunks(decode(data), chunks).file.encode()


def test_round_trip_is_exact() -> None:
    for data in [b"", b"a", b"a\n", b"a\r\nb\rc\nd", b"\n\n", b"caf\xe9 \xff\n", b"x\r"]:
        assert decode(data).encode() == data


def test_crlf_file_keeps_crlf() -> None:
    data = b"one\r\ntwo\r\nthree\r\n"
    assert update(data, chunk(" one", "-two", "+TWO", "+2.5")) == b"one\r\nTWO\r\n2.5\r\nthree\r\n"


def test_mixed_endings_untouched_lines_keep_theirs() -> None:
    data = b"a\r\nb\nc\r\nd\re\r\n"
    out = update(data, chunk(" c", "-d", "+D"))
    # Added lines take the most common ending (CRLF); every other line keeps its own.
    assert out == b"a\r\nb\nc\r\nD\r\ne\r\n"


def test_context_matched_loosely_keeps_the_files_text() -> None:
    data = b"def f():   \n    return 1\n"
    out = update(data, chunk(" def f():", "-    return 1", "+    return 2"))
    assert out == b"def f():   \n    return 2\n"


def test_missing_final_newline_is_preserved_when_the_last_line_is_untouched() -> None:
    assert update(b"a\nb\nc", chunk("-a", "+A")) == b"A\nb\nc"


def test_replaced_last_line_gets_a_newline() -> None:
    assert update(b"a\nlast", chunk(" a", "-last", "+new")) == b"a\nnew\n"


def test_appending_after_an_unterminated_line() -> None:
    assert update(b"a\nb", chunk("+c")) == b"a\nb\nc\n"


def test_unified_no_newline_marker_is_honoured() -> None:
    out = update(b"a\nb\n", chunk(" a", "-b", "+c", new_ends_without_newline=True))
    assert out == b"a\nc"


def test_bom_and_utf16_are_kept() -> None:
    data = codecs.BOM_UTF8 + "é\nx\n".encode()
    assert update(data, chunk("-x", "+y")) == codecs.BOM_UTF8 + "é\ny\n".encode()
    wide = codecs.BOM_UTF16_BE + "a\r\nb\r\n".encode("utf-16-be")
    assert update(wide, chunk("-b", "+ü")) == codecs.BOM_UTF16_BE + "a\r\nü\r\n".encode("utf-16-be")


def test_invalid_utf8_bytes_survive_and_can_be_matched() -> None:
    data = b"caf\xe9\nnext\n"
    assert update(data, chunk("-next", "+then")) == b"caf\xe9\nthen\n"
    # The model saw U+FFFD where the bad byte is; that still finds the line.
    assert update(data, chunk("-caf\ufffd", "+cafe")) == b"cafe\nnext\n"


def test_binary_is_refused() -> None:
    with pytest.raises(PatchError, match="binary"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00")


def test_pure_insertion_after_context_line() -> None:
    data = b"class A:\n    x = 1\nclass B:\n    y = 2\n"
    out = update(data, chunk("+    z = 3", context="class B:"))
    assert out == b"class A:\n    x = 1\nclass B:\n    z = 3\n    y = 2\n"


def test_end_of_file_anchors_at_the_end() -> None:
    data = b"x\nend\ny\nend\n"
    assert update(data, chunk("-end", "+END", end_of_file=True)) == b"x\nend\ny\nEND\n"


def test_trailing_blank_context_is_forgiven() -> None:
    assert update(b"a\nb\n", chunk("-a", "+A", " ")) == b"A\nb\n"


def test_hunks_apply_in_order_and_render() -> None:
    old = decode(b"a\nb\nc\nd\ne\n")
    done = apply_chunks(old, [chunk(" a", "-b", "+B"), chunk(" d", "-e", "+E", "+F")])
    assert done.file.encode() == b"a\nB\nc\nd\nE\nF\n"
    assert render_hunks("a/f", "b/f", done.hunks) == (
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n@@ -4,2 +4,3 @@\n d\n-e\n+E\n+F\n"
    )


def test_new_file_follows_the_file_it_replaces() -> None:
    replaced = decode(b"x\r\ny\r\n")
    assert new_file(["a", "b"], like=replaced).encode() == b"a\r\nb\r\n"
    assert new_file(["a"], final_newline=False).encode() == b"a"


def test_error_names_hunk_quotes_lines_and_shows_closest_region() -> None:
    lines = [f"line {n}" for n in range(1, 41)]
    lines[19] = "def load(self):"
    lines[20] = "    return self.cache"
    old = decode(("\n".join(lines) + "\n").encode())
    bad = chunk(" def load(self):", "-    return None", "+    return 1", header="@@ load")
    with pytest.raises(PatchError) as caught:
        apply_chunks(old, [chunk(" line 2", "-line 3", "+LINE 3"), bad], "src/app.py")
    message = str(caught.value)
    assert "src/app.py, hunk 2 of 2 (@@ load) does not apply" in message
    assert "after line 3" in message
    assert "     def load(self):\n    -    return None" in message
    assert "closest region of src/app.py is lines 20-21 (1 of 2 lines match" in message
    assert "20 | def load(self):\n    21 |     return self.cache" in message


def test_error_explains_out_of_order_hunks() -> None:
    old = decode(b"a\nb\nc\nd\n")
    with pytest.raises(PatchError, match="They occur at line 1, which is before"):
        apply_chunks(old, [chunk(" c", "-d", "+D"), chunk("-a", "+A")])


def test_error_for_missing_context_line() -> None:
    with pytest.raises(PatchError, match="its @@ context line 'class Nope:' was not found"):
        apply_chunks(decode(b"class Yes:\n  x\n"), [chunk("-  x", "+  y", context="class Nope:")])


def test_error_for_end_of_file_mismatch() -> None:
    with pytest.raises(PatchError, match="'\\*\\*\\* End of File' requires them"):
        apply_chunks(decode(b"a\nb\n"), [chunk("-a", "+A", end_of_file=True)])


@pytest.mark.parametrize(
    ("data", "ending"),
    [
        (b"", "\n"),
        (b"no line break", "\n"),
        (b"a\r\nb\r\nc\n", "\r\n"),
        (b"a\rb\nc\r\nd\n", "\n"),
        (b"a\r\nb\nc", "\r\n"),  # a tie goes to the ending seen first
        (b"a\nb\r\nc", "\n"),
        (b"a\rb\r\nc\r\nd\r", "\r"),
    ],
)
def test_preferred_ending_is_the_most_common_one(data: bytes, ending: str) -> None:
    assert decode(data).preferred_ending == ending


def test_encode_needs_one_ending_per_line() -> None:
    with pytest.raises(ValueError, match="one ending per line"):
        TextFile(["a", "b"], ["\n"]).encode()
