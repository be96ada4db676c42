"""Turn a parsed patch into the exact bytes every file will have, before anything is written.

:func:`apply_chunks` is the pure core: old file + hunks -> new file, keeping each untouched and
context line's own text and line ending. :func:`plan_patch` runs every file operation against a
virtual copy of the tree (so a patch may update a file twice, or add what it deleted), resolves
every path through the workspace first (one path outside it refuses the whole patch), and
returns the :class:`~servers.patch.apply.Write` list that :func:`~servers.patch.apply.commit`
performs. Failures raise :class:`PatchError` naming the file and hunk, quoting the expected
lines and showing the closest region of the file with line numbers.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Literal

from servers.common.workspace import Workspace, WorkspaceError
from servers.patch.apply import FileStamp, Write
from servers.patch.matcher import LineIndex, Match, MatchPass, closest_region, seek
from servers.patch.model import (
    AddFile,
    Chunk,
    DeleteFile,
    FileOp,
    LineOp,
    Patch,
    PatchError,
    PatchFormat,
    UpdateFile,
)
from servers.patch.textfile import TextFile, decode, new_file

MAX_FILE_BYTES = 64 << 20
QUOTE_LINES = 12
Status = Literal["A", "M", "D", "R"]


@dataclass(frozen=True, slots=True)
class AppliedHunk:
    """Where a hunk landed: 0-based starts in the old and new file, and its lines as written
    (context and removed lines carry the file's own text, not the patch's)."""

    old_start: int
    new_start: int
    lines: tuple[tuple[LineOp, str], ...]
    match_pass: MatchPass


@dataclass(slots=True)
class Updated:
    file: TextFile
    hunks: list[AppliedHunk]
    notes: list[str]


def apply_chunks(old: TextFile, chunks: Sequence[Chunk], name: str = "the file") -> Updated:
    """Apply ``chunks`` in order; each is searched for after the previous one ended."""
    index = LineIndex(old.lines)
    eol = old.preferred_ending
    lines: list[str] = []
    endings: list[str] = []
    cursor = 0  # old lines before this index are already copied
    no_newline_at = -1
    hunks: list[AppliedHunk] = []
    notes: list[str] = []
    for number, chunk in enumerate(chunks, 1):
        label = f"{name}, hunk {number} of {len(chunks)}"
        if chunk.header not in ("", "@@"):
            label += f" ({chunk.header})"
        search_from = cursor
        if chunk.context is not None:
            found = seek(index, [chunk.context], search_from)
            if found is None:
                raise _context_error(old, chunk, label, name, search_from)
            search_from = found.start + 1
            if found.match_pass is not MatchPass.EXACT:
                notes.append(
                    f"{label}: context line found {found.match_pass.description} "
                    f"(line {found.start + 1})"
                )
        body, match = _locate(index, chunk, search_from)
        if match is None:
            raise _hunk_error(old, index, chunk, label, name, search_from, cursor)
        if match.match_pass is not MatchPass.EXACT:
            notes.append(
                f"{label}: matched {match.match_pass.description} at line {match.start + 1}"
            )
        lines.extend(old.lines[cursor : match.start])
        endings.extend(old.endings[cursor : match.start])
        new_start = len(lines)
        written: list[tuple[LineOp, str]] = []
        j = match.start
        for op, text in body:
            if op == "+":
                lines.append(text)
                endings.append(eol)
                written.append(("+", text))
                continue
            written.append((op, old.lines[j]))
            if op == " ":
                lines.append(old.lines[j])
                endings.append(old.endings[j])
            j += 1
        if chunk.new_ends_without_newline and lines:
            no_newline_at = len(lines) - 1
        cursor = j
        if chunk.added or chunk.removed:
            hunks.append(AppliedHunk(match.start, new_start, tuple(written), match.match_pass))
    lines.extend(old.lines[cursor:])
    endings.extend(old.endings[cursor:])
    # Only the old last line can lack a break; if lines now follow it, it needs one.
    if endings and "" in endings[:-1]:
        endings[endings.index("")] = eol
    if lines and no_newline_at == len(lines) - 1:
        endings[-1] = ""
    return Updated(old.derive(lines, endings), hunks, notes)


def _locate(
    index: LineIndex, chunk: Chunk, start: int
) -> tuple[tuple[tuple[LineOp, str], ...], Match | None]:
    """Find the chunk's old lines. A hunk with none is an insertion: at its hint, right after its
    ``@@`` context line, or else at the end of the file."""
    body = chunk.lines
    old = chunk.old_lines
    if not old:
        size = len(index.lines)
        if chunk.hint is not None:
            return body, Match(min(max(chunk.hint, start), size), MatchPass.EXACT)
        if chunk.context is not None and not chunk.end_of_file:
            return body, Match(start, MatchPass.EXACT)
        return body, Match(size, MatchPass.EXACT)
    match = seek(index, old, start, at_end=chunk.end_of_file, hint=chunk.hint)
    if match is None:
        # Blank lines before the next "@@" are often separators, not empty context lines.
        trimmed = body
        while trimmed and trimmed[-1] == (" ", ""):
            trimmed = trimmed[:-1]
        trimmed_old = [text for op, text in trimmed if op != "+"]
        if trimmed is not body and trimmed_old:
            match = seek(index, trimmed_old, start, at_end=chunk.end_of_file, hint=chunk.hint)
            if match is not None:
                return trimmed, match
    return body, match


def _quote(lines: Sequence[tuple[str, str]]) -> str:
    shown = [f"    {op}{text}" for op, text in lines[:QUOTE_LINES]]
    if len(lines) > QUOTE_LINES:
        shown.append(f"    [... {len(lines) - QUOTE_LINES} more lines]")
    return "\n".join(shown)


def _numbered(old: TextFile, start: int, end: int) -> str:
    start, end = max(start, 0), min(end, len(old.lines))
    width = len(str(end))
    return "\n".join(f"    {n + 1:>{width}} | {old.lines[n]}" for n in range(start, end))


def _closest(old: TextFile, pattern: list[str], start: int, name: str) -> str:
    region = closest_region(old.lines, pattern, start)
    if region is None:
        return f"No line of {name} ({len(old.lines)} lines) resembles the expected lines."
    first, last = region.start + 1, region.start + region.length
    same = f"{region.same} of {len(pattern)} lines match" if region.same else "similar lines"
    context = 2
    return (
        f"The closest region of {name} is lines {first}-{last} ({same}; "
        f"shown with {context} lines around it):\n"
        + _numbered(old, region.start - context, region.start + region.length + context)
    )


def _hunk_error(
    old: TextFile, index: LineIndex, chunk: Chunk, label: str, name: str, start: int, cursor: int
) -> PatchError:
    expected = [(op, text) for op, text in chunk.lines if op != "+"]
    pattern = chunk.old_lines
    where = " as the last lines of the file" if chunk.end_of_file else ""
    after = f" after line {start}" if start else ""
    parts = [f"{label} does not apply: these lines were not found{where}{after}:", _quote(expected)]
    anywhere = seek(index, pattern, 0)
    if anywhere is not None and anywhere.start < start:
        parts.append(
            f"They occur at line {anywhere.start + 1}, which is before where this hunk may start "
            f"(line {start + 1}): hunks must be in file order, must not overlap, and a hunk's "
            "lines come after its @@ context line."
        )
    elif chunk.end_of_file and anywhere is not None:
        parts.append(
            f"They occur at line {anywhere.start + 1}, but '*** End of File' requires them to be "
            f"the last lines of the file ({len(old.lines)} lines); drop that marker or extend "
            "the hunk to the end."
        )
    else:
        parts.append(_closest(old, pattern, cursor, name))
    return PatchError("\n".join(parts))


def _context_error(old: TextFile, chunk: Chunk, label: str, name: str, start: int) -> PatchError:
    context = chunk.context or ""
    after = f" after line {start}" if start else ""
    return PatchError(
        f"{label} does not apply: its @@ context line {context!r} was not found{after}.\n"
        + _closest(old, [context], start, name)
    )


def render_hunks(old_name: str, new_name: str, hunks: Sequence[AppliedHunk]) -> str:
    """A unified diff of what :func:`apply_chunks` did."""
    out = [f"--- {old_name}", f"+++ {new_name}"]
    for hunk in hunks:
        old_len = sum(1 for op, _ in hunk.lines if op != "+")
        new_len = sum(1 for op, _ in hunk.lines if op != "-")
        out.append(f"@@ -{_span(hunk.old_start, old_len)} +{_span(hunk.new_start, new_len)} @@")
        out.extend(op + text for op, text in hunk.lines)
    return "\n".join(out) + "\n"


def _span(start: int, length: int) -> str:
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


# --------------------------------------------------------------------------- whole patches


def read_bytes(path: Path, size: int) -> bytes:
    """The whole file, read with as few system calls as possible: ``size`` (from the ``lstat``
    just made) sizes the first read, so a file costs open, two reads and close. Python's own
    file objects add an fstat, an lseek and a tty check to each; a patch reads every file it
    touches. A file that grew since the ``lstat`` is still read to its end."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = [os.read(fd, size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, max(size, 1 << 16)))
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 2 else b"".join(chunks)


@dataclass(frozen=True, slots=True)
class FileChange:
    status: Status
    path: str
    old_path: str | None
    added: int
    removed: int
    diff: str
    note: str | None = None


@dataclass(slots=True)
class PatchPlan:
    format: PatchFormat
    changes: list[FileChange]
    writes: list[Write]
    new_dirs: list[Path]
    notes: list[str]


@dataclass(slots=True)
class _State:
    """A path in the virtual tree."""

    kind: Literal["missing", "file", "dir", "link", "other"]
    data: bytes | None = None
    mode: int | None = None
    create_mode: int = 0o666
    text: TextFile | None = None
    stamp: FileStamp | None = None


@dataclass(slots=True)
class _Tree:
    """The workspace as the patch has changed it so far; originals are read once, lazily."""

    workspace: Workspace
    max_file_bytes: int
    original: dict[Path, _State] = field(default_factory=dict)
    current: dict[Path, _State] = field(default_factory=dict)

    def get(self, path: Path) -> _State:
        state = self.current.get(path)
        if state is None:
            state = self.original[path] = self.current[path] = self._read(path)
        return state

    def set(self, path: Path, state: _State) -> None:
        self.get(path)  # record the original first
        self.current[path] = state

    def _read(self, path: Path) -> _State:
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return _State("missing")
        stamp = FileStamp.of(st)
        if stat.S_ISDIR(st.st_mode):
            return _State("dir", stamp=stamp)
        if stat.S_ISLNK(st.st_mode):
            return _State("link", stamp=stamp)
        if not stat.S_ISREG(st.st_mode):
            return _State("other", stamp=stamp)
        if st.st_size > self.max_file_bytes:
            raise PatchError(
                f"{self.workspace.display(path)} is {st.st_size} bytes; apply_patch edits files "
                f"up to {self.max_file_bytes} bytes"
            )
        data = read_bytes(path, st.st_size)
        return _State("file", data=data, mode=stat.S_IMODE(st.st_mode), stamp=stamp)

    def text(self, path: Path, shown: str) -> TextFile:
        state = self.get(path)
        if state.text is None:
            assert state.data is not None
            try:
                state.text = decode(state.data)
            except PatchError as exc:
                raise PatchError(f"{shown}: {exc}") from None
        return state.text


class _Planner:
    def __init__(self, workspace: Workspace, max_file_bytes: int) -> None:
        self.ws = workspace
        self.tree = _Tree(workspace, max_file_bytes)
        self.changes: list[FileChange] = []
        self.notes: list[str] = []
        self.real: dict[str, Path] = {}

    def resolve_all(self, ops: Sequence[FileOp]) -> None:
        """Check every path before touching any file: one outside the roots refuses the patch."""
        for op in ops:
            names = [op.path, *op.alternatives]
            if isinstance(op, UpdateFile) and op.move_to:
                names.append(op.move_to)
            for name in names:
                if name in self.real:
                    continue
                try:
                    self.real[name] = self.ws.resolve(name)
                except WorkspaceError as exc:
                    raise PatchError(f"the patch was refused as a whole: {exc}") from None

    def removal_target(self, name: str) -> Path:
        """What deleting ``name`` removes: a symlink itself (not the file it points to)."""
        real = self.real[name]
        pure = PurePath(name)
        if pure.name in ("", ".", ".."):
            return real
        try:
            lexical = self.ws.resolve(str(pure.parent)) / pure.name
        except WorkspaceError:
            return real  # e.g. a root itself: its parent is outside, and it is no symlink
        if lexical != real and lexical.is_symlink():
            return lexical
        return real

    def shown(self, path: Path) -> str:
        return self.ws.display(path)

    def pick(self, op: FileOp, *, exists: bool) -> str:
        """Which of the op's names is meant: the first that exists (or, for a file to be
        created, whose directory exists); the first name when none does."""
        for name in (op.path, *op.alternatives):
            real = self.real[name]
            if exists and self.tree.get(real).kind != "missing":
                return name
            if not exists and self.tree.get(real.parent).kind == "dir":
                return name
        return op.path

    def add(self, op: AddFile) -> None:
        target = self.real[self.pick(op, exists=False)]
        shown = self.shown(target)
        current = self.tree.get(target)
        if current.kind in ("dir", "other"):
            raise PatchError(f"cannot add {shown}: a directory or special file is in the way")
        replaced = None
        if current.kind == "file":
            try:
                replaced = self.tree.text(target, shown)
            except PatchError:
                replaced = None  # replacing a binary file: nothing to keep
        text = new_file(list(op.lines), like=replaced, final_newline=not op.ends_without_newline)
        data = text.encode()
        create_mode = 0o777 if op.executable else 0o666
        mode = current.mode if current.kind == "file" else None
        self.tree.set(target, _State("file", data, mode, create_mode, text))
        if replaced is None:
            hunk = AppliedHunk(0, 0, tuple(("+", line) for line in op.lines), MatchPass.EXACT)
            diff = render_hunks("/dev/null", f"b/{shown}", [hunk] if op.lines else [])
            self.changes.append(FileChange("A", shown, None, len(op.lines), 0, diff))
            return
        names = (f"a/{shown}", f"b/{shown}")
        diff_lines = list(difflib.unified_diff(replaced.lines, text.lines, *names, lineterm=""))
        body = diff_lines[2:]  # after the two file headers, only hunk lines and @@ headers
        added = sum(1 for line in body if line.startswith("+"))
        removed = sum(1 for line in body if line.startswith("-"))
        diff = "".join(line + "\n" for line in diff_lines)
        note = "replaced the existing file"
        self.changes.append(FileChange("M", shown, None, added, removed, diff, note))

    def delete(self, op: DeleteFile) -> None:
        target = self.removal_target(self.pick(op, exists=True))
        shown = self.shown(target)
        current = self.tree.get(target)
        if current.kind == "missing":
            raise PatchError(f"cannot delete {shown}: there is no such file")
        if current.kind == "dir":
            raise PatchError(f"cannot delete {shown}: it is a directory; Delete File removes files")
        if current.kind == "other":
            raise PatchError(f"cannot delete {shown}: it is not a regular file")
        removed = 0
        if current.kind == "file":
            try:
                removed = len(self.tree.text(target, shown).lines)
            except PatchError:
                removed = 0
        self.tree.set(target, _State("missing"))
        diff = f"--- a/{shown}\n+++ /dev/null\n"
        self.changes.append(FileChange("D", shown, None, 0, removed, diff))

    def update(self, op: UpdateFile) -> None:
        name = self.pick(op, exists=True)
        source = self.real[name]
        shown = self.shown(source)
        current = self.tree.get(source)
        if current.kind == "missing":
            tried = ", ".join(repr(n) for n in (op.path, *op.alternatives))
            raise PatchError(
                f"cannot update {tried}: there is no such file (use '*** Add File:' to create one)"
            )
        if current.kind in ("dir", "other", "link"):
            raise PatchError(f"cannot update {shown}: it is not a regular file")
        old = self.tree.text(source, shown)
        updated = apply_chunks(old, op.chunks, shown)
        self.notes.extend(updated.notes)
        data = updated.file.encode() if updated.hunks else current.data
        mode = op.new_mode if op.new_mode is not None else current.mode
        new_state = _State("file", data, mode, text=updated.file)
        added = sum(c.added for c in op.chunks)
        removed = sum(c.removed for c in op.chunks)
        note = None
        if mode is not None and mode != current.mode:
            note = f"permissions set to {mode:o}"
        destination = self.real[op.move_to] if op.move_to else source
        if destination == source:
            self.tree.set(source, new_state)
            diff = render_hunks(f"a/{shown}", f"b/{shown}", updated.hunks)
            self.changes.append(FileChange("M", shown, None, added, removed, diff, note))
            return
        moved_to = self.shown(destination)
        if self.tree.get(destination).kind in ("dir", "other"):
            raise PatchError(f"cannot move {shown} to {moved_to}: a directory is in the way")
        self.tree.set(self.removal_target(name), _State("missing"))
        self.tree.set(destination, new_state)
        diff = render_hunks(f"a/{shown}", f"b/{moved_to}", updated.hunks)
        self.changes.append(FileChange("R", moved_to, shown, added, removed, diff, note))

    def writes(self) -> tuple[list[Write], list[Path]]:
        writes: list[Write] = []
        new_dirs: list[Path] = []
        for path, final in self.tree.current.items():
            before = self.tree.original[path]
            if final.kind != "file" and final.kind == before.kind:
                continue
            unchanged = final.data == before.data and final.mode == before.mode
            if final.kind == "file" and before.kind == "file" and unchanged:
                continue
            expect = before.stamp if before.kind != "missing" else None
            data = final.data if final.kind == "file" else None
            if data is not None and before.kind == "missing":
                # (A path that existed when planned has its directory already.)
                self._missing_parents(path, new_dirs)
            mode, create_mode = final.mode, final.create_mode
            writes.append(Write(path, data, expect, mode, create_mode, before.data, before.mode))
        return writes, new_dirs

    def _missing_parents(self, path: Path, new_dirs: list[Path]) -> None:
        missing: list[Path] = []
        parent = path.parent
        # (A file where a directory should be was refused by Workspace.resolve already.)
        while not parent.exists() and parent not in new_dirs:
            missing.append(parent)
            parent = parent.parent
        new_dirs.extend(reversed(missing))


def plan_patch(
    patch: Patch, workspace: Workspace, *, max_file_bytes: int = MAX_FILE_BYTES
) -> PatchPlan:
    """Compute every file's new bytes; raise :class:`PatchError` if any part cannot apply."""
    planner = _Planner(workspace, max_file_bytes)
    planner.resolve_all(patch.ops)
    for op in patch.ops:
        if isinstance(op, AddFile):
            planner.add(op)
        elif isinstance(op, DeleteFile):
            planner.delete(op)
        else:
            planner.update(op)
    writes, new_dirs = planner.writes()
    return PatchPlan(patch.format, planner.changes, writes, new_dirs, planner.notes)
