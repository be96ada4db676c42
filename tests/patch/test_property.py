"""For random contents and random edits, a patch generated from the two versions (in the Codex
format and as a unified diff) turns the old file into exactly the new one."""

from __future__ import annotations

import difflib

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from servers.patch.model import UpdateFile
from servers.patch.parser import parse_patch
from servers.patch.plan import apply_chunks
from servers.patch.textfile import decode

# Few distinct lines make repeated lines (and so ambiguous places) common.
LINE = st.one_of(
    st.sampled_from(["", "x", "y", "  ", "def f():", "    return 1", "}", "a\u2013b", "tab\t"]),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=10),
)
ENDING = st.sampled_from(["\n", "\r\n"])


@st.composite
def edits(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    old = draw(st.lists(LINE, max_size=24))
    new: list[str] = []
    for line in old:
        if draw(st.integers(0, 5)) == 0:
            new.extend(draw(st.lists(LINE, min_size=1, max_size=3)))
        action = draw(st.sampled_from(["keep", "keep", "keep", "drop", "change"]))
        if action == "keep":
            new.append(line)
        elif action == "change":
            new.append(draw(LINE))
    new.extend(draw(st.lists(LINE, max_size=2)))
    assume(old != new)
    return old, new


def added_ending(old: list[str], ending: str, final_newline: bool = True) -> str:
    """A file without any line break (empty, or one unterminated line) has no convention to
    follow, so lines added to it end in LF."""
    return ending if len(old) > (0 if final_newline else 1) else "\n"


def join(lines: list[str], ending: str, final_newline: bool = True) -> bytes:
    text = "".join(line + ending for line in lines)
    return (text if final_newline or not lines else text[: -len(ending)]).encode()


def apply(patch: str, old: bytes) -> bytes:
    (op,) = parse_patch(patch).ops
    assert isinstance(op, UpdateFile)
    return apply_chunks(decode(old), op.chunks).file.encode()


def codex_patch(old: list[str], new: list[str], context: int) -> str:
    """What a careful author writes: each hunk gets enough leading context that its lines'
    first occurrence after the previous hunk is where it belongs."""
    out = ["*** Begin Patch", "*** Update File: f.txt"]
    previous_end = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        start, end = group[0][1], group[-1][2]
        body = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                body += [" " + line for line in old[i1:i2]]
            else:
                body += ["-" + line for line in old[i1:i2]] + ["+" + line for line in new[j1:j2]]
        while (
            start > previous_end and _first_at_or_after(old, old[start:end], previous_end) != start
        ):
            start -= 1
            body.insert(0, " " + old[start])
        out += ["@@", *body]
        previous_end = end
    return "\n".join([*out, "*** End Patch"])


def _first_at_or_after(lines: list[str], pattern: list[str], start: int) -> int | None:
    for i in range(start, len(lines) - len(pattern) + 1):
        if lines[i : i + len(pattern)] == pattern:
            return i
    return None


def unified_patch(old: list[str], new: list[str], context: int) -> str:
    """A unified diff as `diff -u` writes it, ``\\ No newline at end of file`` included. Lines are
    compared with their newline so that adding or dropping the last newline is a change."""
    out = ["--- a/f.txt", "+++ b/f.txt"]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        (_, i1, _, j1, _), (_, _, i2, _, j2) = group[0], group[-1]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += _emit(" ", old[a1:a2])
            else:
                out += _emit("-", old[a1:a2]) + _emit("+", new[b1:b2])
    return "\n".join(out) + "\n"


def _emit(op: str, lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        out.append(op + line.removesuffix("\n"))
        if not line.endswith("\n"):
            out.append("\\ No newline at end of file")
    return out


def _range(start: int, stop: int) -> str:
    length = stop - start
    return str(start + 1) if length == 1 else f"{start + 1 if length else start},{length}"


@settings(max_examples=300, deadline=None)
@given(edits(), ENDING, st.integers(1, 3))
def test_codex_patch_reproduces_the_new_file(
    change: tuple[list[str], list[str]], ending: str, context: int
) -> None:
    old, new = change
    patch = codex_patch(old, new, context)
    assert apply(patch, join(old, ending)) == join(new, added_ending(old, ending))


@settings(max_examples=300, deadline=None)
@given(edits(), ENDING, st.integers(0, 3), st.booleans(), st.booleans())
def test_unified_diff_reproduces_the_new_file(
    change: tuple[list[str], list[str]],
    ending: str,
    context: int,
    old_final_newline: bool,
    new_final_newline: bool,
) -> None:
    old, new = change
    # Without a final newline, a last empty line is not there at all.
    assume(old_final_newline or not old or old[-1])
    assume(new_final_newline or not new or new[-1])
    old_marked = [line + "\n" for line in old]
    new_marked = [line + "\n" for line in new]
    if old and not old_final_newline:
        old_marked[-1] = old[-1]
    if new and not new_final_newline:
        new_marked[-1] = new[-1]
    assume(old_marked != new_marked)
    patch = unified_patch(old_marked, new_marked, context)
    expected = join(new, added_ending(old, ending, old_final_newline), new_final_newline)
    assert apply(patch, join(old, ending, old_final_newline)) == expected
