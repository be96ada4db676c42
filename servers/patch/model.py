"""The parsed form of a patch. Both input formats (Codex ``*** Begin Patch`` and unified diff)
parse into these types, so matching, planning and writing exist once.

A hunk is kept as its list of ``(op, text)`` lines rather than as "old lines" and "new lines":
knowing which lines are context lets the applier keep the file's own bytes (and line ending) for
them, even when they were matched loosely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LineOp = Literal[" ", "-", "+"]
PatchFormat = Literal["codex", "unified"]


class PatchError(Exception):
    """A patch that cannot be parsed or applied. The message is written for the model: it says
    what was wrong, where, and what to send instead."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One hunk of an update: context (`` ``), removed (``-``) and added (``+``) lines."""

    lines: tuple[tuple[LineOp, str], ...]
    context: str | None = None
    """Text after ``@@ `` (Codex format): a line that must occur before the hunk."""
    end_of_file: bool = False
    """``*** End of File``: the hunk's old lines must be the last lines of the file."""
    hint: int | None = None
    """0-based line where the old lines are expected (unified diffs); matching prefers it."""
    new_ends_without_newline: bool = False
    """Unified ``\\ No newline at end of file`` after the new side's last line."""
    header: str = "@@"
    """The hunk's header as written, for messages."""
    patch_line: int = 0
    """1-based line of the patch text where the hunk starts, for messages."""

    @property
    def old_lines(self) -> list[str]:
        return [text for op, text in self.lines if op != "+"]

    @property
    def new_lines(self) -> list[str]:
        return [text for op, text in self.lines if op != "-"]

    @property
    def added(self) -> int:
        return sum(1 for op, _ in self.lines if op == "+")

    @property
    def removed(self) -> int:
        return sum(1 for op, _ in self.lines if op == "-")


@dataclass(frozen=True, slots=True)
class AddFile:
    """Create ``path`` (replacing any file there) with ``lines``."""

    path: str
    lines: tuple[str, ...]
    ends_without_newline: bool = False
    executable: bool = False
    alternatives: tuple[str, ...] = ()
    """Other names for the file (see :attr:`UpdateFile.alternatives`); the first whose
    directory exists wins."""
    patch_line: int = 0


@dataclass(frozen=True, slots=True)
class DeleteFile:
    path: str
    alternatives: tuple[str, ...] = ()
    patch_line: int = 0


@dataclass(frozen=True, slots=True)
class UpdateFile:
    """Apply ``chunks`` to ``path`` in order, optionally moving the result to ``move_to``."""

    path: str
    chunks: tuple[Chunk, ...]
    move_to: str | None = None
    new_mode: int | None = None
    """Permission bits a unified diff asked for (``new mode 100755``); None keeps the file's."""
    alternatives: tuple[str, ...] = ()
    """Other names to try when ``path`` does not exist (plain ``diff -u`` headers name the old
    and the new file, and either may be the one on disk)."""
    patch_line: int = 0


FileOp = AddFile | DeleteFile | UpdateFile


@dataclass(frozen=True, slots=True)
class Patch:
    ops: tuple[FileOp, ...]
    format: PatchFormat
