"""Read unified diffs (``git diff``, ``diff -u``) into the same model as the Codex format.

``unidiff`` does the parsing; this module decides what each file entry means: git's ``a/`` and
``b/`` prefixes, ``/dev/null`` for added and deleted files, renames (with or without hunks),
mode changes, quoted paths, and ``\\ No newline at end of file``. Hunk positions become hints:
the matcher looks there first, then searches like it does for Codex hunks, so a diff made against
a slightly different version of the file still applies.
"""

from __future__ import annotations

import re
from datetime import datetime
from io import StringIO

from unidiff.constants import DEV_NULL
from unidiff.errors import UnidiffParseError
from unidiff.patch import Hunk, PatchedFile, PatchSet

from servers.patch.model import (
    AddFile,
    Chunk,
    DeleteFile,
    FileOp,
    LineOp,
    Patch,
    PatchError,
    UpdateFile,
)

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d{4})$")
_OCTAL = re.compile(rb"\\([0-7]{3}|.)")
_ESCAPES = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t"}
_ESCAPES.update({b"v": b"\v", b"\\": b"\\", b'"': b'"'})


def parse_unified(text: str) -> Patch:
    try:
        files = PatchSet(StringIO(text))
    except UnidiffParseError as exc:
        raise PatchError(f"cannot parse the unified diff: {exc}") from exc
    if not files:
        raise PatchError("the unified diff names no files (expected '--- OLD' / '+++ NEW' lines)")
    return Patch(tuple(_file_op(f) for f in files), "unified")


def _file_op(entry: PatchedFile) -> FileOp:
    is_git = any(line.startswith("diff --git ") for line in entry.patch_info or ())
    source = _name(entry.source_file, is_git, "a/")
    target = _name(entry.target_file, is_git, "b/")
    shown = target or source or "?"
    if entry.is_binary_file:
        raise PatchError(f"{shown}: binary diffs are not supported; apply_patch edits text files")
    if entry.is_symlink or entry.is_submodule:
        kind = "symbolic link" if entry.is_symlink else "submodule"
        raise PatchError(f"{shown}: the diff changes a {kind}; apply_patch edits regular files")
    line = entry.diff_line_no or 0
    if source is None:
        if target is None:
            raise PatchError("a diff entry has /dev/null as both its old and new file")
        lines, no_newline = _added_content(entry)
        executable = bool((_mode(entry.target_mode) or 0) & 0o111)
        return AddFile(target, lines, no_newline, executable=executable, patch_line=line)
    if target is None:
        return DeleteFile(source, patch_line=line)
    chunks = tuple(_chunk(hunk) for hunk in entry)
    new_mode = _mode(entry.target_mode) if entry.source_mode != entry.target_mode else None
    if is_git:
        move_to = target if target != source else None
        return UpdateFile(source, chunks, move_to=move_to, new_mode=new_mode, patch_line=line)
    # Plain `diff -u old new` names the same file as seen from two trees; whichever name is on
    # disk is meant. `diff -N` marks a file that one side lacks with the epoch as its time.
    names = [target, source, _drop_first(target), _drop_first(source)]
    first, *others = dict.fromkeys(n for n in names if n)
    if _is_epoch(entry.source_timestamp):
        lines, no_newline = _added_content(entry)
        return AddFile(first, lines, no_newline, alternatives=tuple(others), patch_line=line)
    if _is_epoch(entry.target_timestamp):
        return DeleteFile(first, alternatives=tuple(others), patch_line=line)
    return UpdateFile(first, chunks, alternatives=tuple(others), patch_line=line)


def _chunk(hunk: Hunk) -> Chunk:
    ops: list[tuple[LineOp, str]] = []
    new_no_newline = False
    previous = ""
    first_line = 0
    for line in hunk:
        kind = line.line_type
        if kind == "\\":
            if previous in (" ", "+"):
                new_no_newline = True
        elif kind in (" ", "-", "+"):
            ops.append((kind, _strip_eol(line.value)))  # type: ignore[arg-type]
            first_line = first_line or (line.diff_line_no or 0)
        previous = kind or previous
    start, length = hunk.source_start, hunk.source_length
    header = f"@@ -{start},{length} +{hunk.target_start},{hunk.target_length} @@"
    return Chunk(
        tuple(ops),
        hint=start if length == 0 else max(start - 1, 0),
        new_ends_without_newline=new_no_newline,
        header=f"{header} {hunk.section_header}".rstrip(),
        patch_line=max(first_line - 1, 0),
    )


def _added_content(entry: PatchedFile) -> tuple[tuple[str, ...], bool]:
    lines: list[str] = []
    no_newline = False
    for hunk in entry:
        for line in hunk:
            if line.line_type == "+":
                lines.append(_strip_eol(line.value))
            elif line.line_type == "\\":
                no_newline = True
    return tuple(lines), no_newline


def _strip_eol(value: str) -> str:
    if value.endswith("\n"):
        value = value[:-1]
    if value.endswith("\r"):
        value = value[:-1]
    return value


def _name(raw: str | None, is_git: bool, prefix: str) -> str | None:
    """The path a header names, or None for /dev/null."""
    if raw is None:
        return None
    name = _unquote(raw.strip())
    if name == DEV_NULL:
        return None
    if is_git and name.startswith(prefix):
        name = name[len(prefix) :]
    return name


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of unusual paths: ``"t\\303\\251st.txt"`` is ``tést.txt``."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name

    def replace(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return bytes([int(code, 8)]) if len(code) == 3 else _ESCAPES.get(code, code)

    raw = name[1:-1].encode("utf-8", "surrogateescape")
    return _OCTAL.sub(replace, raw).decode("utf-8", "surrogateescape")


def _drop_first(path: str) -> str | None:
    """``patch -p1``: ``old/src/x.c`` -> ``src/x.c``."""
    head, sep, rest = path.partition("/")
    return rest if sep and head not in ("", ".", "..") and rest else None


def _is_epoch(stamp: str | None) -> bool:
    """True for ``1970-01-01 00:00:00.000000000 +0000`` (in any zone): "this side has no file"."""
    match = _STAMP.match(stamp or "")
    if match is None:
        return False
    when = datetime.strptime(f"{match.group(1)} {match.group(2)}", "%Y-%m-%d %H:%M:%S %z")
    return when.timestamp() == 0


def _mode(git_mode: str | None) -> int | None:
    """Permission bits from a git mode (``100755`` -> ``0o755``)."""
    if not git_mode:
        return None
    return int(git_mode, 8) & 0o777
