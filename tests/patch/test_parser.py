"""The Codex patch format parser, and format detection."""

from __future__ import annotations

import pytest

from servers.patch.model import AddFile, Chunk, DeleteFile, PatchError, UpdateFile
from servers.patch.parser import first_line, parse_codex, parse_patch, split_lines
from tests.patch.conftest import codex


def test_all_operations() -> None:
    patch = parse_patch(
        codex(
            "*** Add File: path/add.py",
            "+abc",
            "+def",
            "*** Delete File: path/delete.py",
            "*** Update File: path/update.py",
            "*** Move to: path/update2.py",
            "@@ def f():",
            "-    pass",
            "+    return 123",
        )
    )
    assert patch.format == "codex"
    add, delete, update = patch.ops
    assert add == AddFile("path/add.py", ("abc", "def"), patch_line=2)
    assert delete == DeleteFile("path/delete.py", patch_line=5)
    assert isinstance(update, UpdateFile)
    assert (update.path, update.move_to) == ("path/update.py", "path/update2.py")
    (chunk,) = update.chunks
    assert chunk.context == "def f():"
    assert chunk.lines == (("-", "    pass"), ("+", "    return 123"))
    assert chunk.old_lines == ["    pass"] and chunk.new_lines == ["    return 123"]


def test_first_chunk_without_header_and_several_chunks() -> None:
    (op,) = parse_patch(
        codex("*** Update File: a.py", " import foo", "+bar", "@@", "-x", "@@ class C:", "+y")
    ).ops
    assert isinstance(op, UpdateFile)
    first, second, third = op.chunks
    assert first.context is None and first.lines == ((" ", "import foo"), ("+", "bar"))
    assert second.context is None and second.lines == (("-", "x"),)
    assert third.context == "class C:"


def test_whitespace_around_markers_and_heredoc() -> None:
    text = (
        "<<'EOF'\n  *** Begin Patch \n   *** Update File: f.txt  \n@@\n-a\n+b\n"
        "*** End Patch  \nEOF\n"
    )
    (op,) = parse_patch(text).ops
    assert isinstance(op, UpdateFile) and op.path == "f.txt"
    for opener in ("<<EOF", '<<"EOF"', "apply_patch <<'PATCH'"):
        closer = "PATCH" if "PATCH" in opener else "EOF"
        wrapped = f"{opener}\n{codex('*** Delete File: x')}{closer}"
        assert parse_patch(wrapped).ops == (DeleteFile("x", patch_line=3),)


def test_end_of_file_marker_and_blank_lines() -> None:
    (op,) = parse_patch(
        codex("*** Update File: t.txt", "", "@@", " first", "", "-second", "+2", "*** End of File")
    ).ops
    assert isinstance(op, UpdateFile)
    (chunk,) = op.chunks
    assert chunk.end_of_file
    # A bare empty line inside a hunk is an empty context line.
    assert chunk.lines == ((" ", "first"), (" ", ""), ("-", "second"), ("+", "2"))


def test_blank_lines_inside_added_file_are_empty_lines() -> None:
    (op,) = parse_patch(codex("*** Add File: n.txt", "+a", "", "+b", "", "*** Delete File: x")).ops[
        :1
    ]
    assert op == AddFile("n.txt", ("a", "", "b"), patch_line=2)


def test_unified_style_header_becomes_a_hint() -> None:
    (op,) = parse_patch(
        codex("*** Update File: a.py", "@@ -10,2 +10,3 @@ def f():", " x", "+y")
    ).ops
    assert isinstance(op, UpdateFile)
    (chunk,) = op.chunks
    assert (chunk.hint, chunk.context) == (9, "def f():")


def test_crlf_patch_text() -> None:
    (op,) = parse_patch(codex("*** Update File: a", "@@", "-x", "+y").replace("\n", "\r\n")).ops
    assert isinstance(op, UpdateFile)
    assert op.chunks[0].lines == (("-", "x"), ("+", "y"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("bad", "'*** Begin Patch'"),
        ("*** Begin Patch\n*** Add File: a\n+x\n", "'*** End Patch' (was the patch cut off?)"),
        (codex(), "no file operations"),
        (codex("*** Frobnicate File: foo"), "patch line 2: '*** Frobnicate File: foo' is not"),
        (codex("*** Update File: foo"), "patch line 2: '*** Update File: foo' has no hunks"),
        (
            codex("*** Update File: f", "@@", "-a", "oops"),
            "patch line 5: unexpected line 'oops' after hunk 1 of f",
        ),
        (codex("*** Update File: f", "oops"), "patch line 3: unexpected line 'oops' in hunk 1"),
        (codex("*** Add File:"), "needs a path"),
        (codex("*** Update File: f", "@@", "*** End of File"), "hunk 1 of f has no lines"),
    ],
)
def test_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch(text)
    assert message in str(caught.value)


def test_line_numbers_count_the_heredoc_wrapper() -> None:
    with pytest.raises(PatchError, match="patch line 3: 'junk'"):
        parse_patch("<<'EOF'\n*** Begin Patch\njunk\n*** End Patch\nEOF")


def test_unified_diff_is_detected() -> None:
    patch = parse_patch("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n")
    assert patch.format == "unified"


def test_parse_codex_directly_keeps_chunk_positions() -> None:
    (op,) = parse_codex(codex("*** Update File: f", "@@ ctx", "-a", "+b")).ops
    assert isinstance(op, UpdateFile)
    assert op.chunks[0] == Chunk(
        (("-", "a"), ("+", "b")), context="ctx", header="@@ ctx", patch_line=3
    )


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("", ""),
        ("\n \r\n\t\r", ""),
        ("\n  \r\n  *** Begin Patch  \n*** End Patch", "*** Begin Patch"),
        ("only line", "only line"),
        ("a\rb", "a"),
        ("a\r\nb", "a"),
    ],
)
def test_first_line_skips_blank_lines_and_strips(text: str, first: str) -> None:
    assert first_line(text) == first


def test_split_lines_splits_on_every_kind_of_break() -> None:
    assert split_lines("a\nb\r\nc\rd") == ["a", "b", "c", "d"]
    assert split_lines("a\nb\n") == ["a", "b", ""]
    assert split_lines("a\r\n\r\n") == ["a", "", ""]


def test_heredoc_with_another_closing_word_is_not_unwrapped() -> None:
    with pytest.raises(PatchError, match="does not start with '\\*\\*\\* Begin Patch'"):
        parse_patch("<<'EOF'\n*** Begin Patch\n*** Delete File: x\n*** End Patch\nEND\n")
