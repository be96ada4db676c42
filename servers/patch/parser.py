"""Parse the Codex patch format (and detect unified diffs, handed to :mod:`.unified`).

Grammar, as models write it::

    *** Begin Patch
    *** Add File: PATH          then one "+line" per line of the new file
    *** Delete File: PATH
    *** Update File: PATH
    *** Move to: NEW_PATH       (optional, right after Update File)
    @@ optional context line    then " context", "-removed", "+added" lines
    *** End of File             (optional: the hunk ends at the end of the file)
    *** End Patch

Tolerated the way the reference parser tolerates them, because models produce them: whitespace
around marker lines, a shell heredoc wrapper (``<<'EOF'`` ... ``EOF``), a first hunk without
``@@``, blank lines between hunks. Also tolerated: a unified-style ``@@ -12,3 +12,4 @@`` header
(its line number becomes a position hint), and blank lines inside an added file.
"""

from __future__ import annotations

import re

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
from servers.patch.textfile import LINE_BREAK
from servers.patch.unified import parse_unified

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File:"
DELETE = "*** Delete File:"
UPDATE = "*** Update File:"
MOVE = "*** Move to:"
END_OF_FILE = "*** End of File"

_HEREDOC = re.compile(r"""^(?:apply_patch\s+)?<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1$""")
_UNIFIED_HEADER = re.compile(r"^-(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@ ?(.*)$")
_UNIFIED_START = re.compile(r"^(diff --git |--- |@@ -\d)", re.M)

FORMAT_HELP = (
    "Send either the Codex patch format (first line '*** Begin Patch', last line "
    "'*** End Patch', with '*** Add File: PATH', '*** Delete File: PATH' or "
    "'*** Update File: PATH' sections) or a unified diff as `git diff` prints it."
)


def split_lines(text: str) -> list[str]:
    """Split on LF, CRLF and lone CR: the same line breaks file contents are split on."""
    if "\r" not in text:
        return text.split("\n")  # the usual case, several times faster than the expression
    return LINE_BREAK.split(text)


def first_line(text: str) -> str:
    """The first line of ``text`` that is not blank, stripped ("" when there is none).

    Found without splitting the whole text: telling the format apart and spotting a heredoc
    wrapper need only this line, and splitting a 100-file patch into lines takes most of a
    millisecond each time."""
    rest = text.lstrip()
    end = LINE_BREAK.search(rest)
    return (rest[: end.start()] if end else rest).rstrip()


def parse_patch(text: str) -> Patch:
    """Parse ``text`` in whichever format it is written in."""
    body, offset = strip_heredoc(text)
    first = first_line(body)
    if first.startswith("*** "):
        return parse_codex(body, line_offset=offset)
    if _UNIFIED_START.search(body):
        return parse_unified(body)
    if not first:
        raise PatchError(f"the patch is empty. {FORMAT_HELP}")
    raise PatchError(
        f"the patch does not start with '*** Begin Patch' (got {first!r}). {FORMAT_HELP}"
    )


def _blank_lines_before(text: str) -> int:
    return len(LINE_BREAK.findall(text[: len(text) - len(text.lstrip())]))


def strip_heredoc(text: str) -> tuple[str, int]:
    """Remove a ``<<'EOF'`` ... ``EOF`` wrapper; return the body and how many lines went first."""
    opener = _HEREDOC.match(first_line(text))
    if opener is None:  # the usual case: no need to split the patch into lines here
        return text, 0
    lines = split_lines(text.strip())
    if len(lines) >= 4 and lines[-1].strip() == opener.group(2):
        return "\n".join(lines[1:-1]), _blank_lines_before(text) + 1
    return text, 0


def parse_codex(text: str, *, line_offset: int = 0) -> Patch:
    """Parse a patch in the Codex format. Line numbers in errors count from the patch's first
    line (``line_offset`` lines of wrapper are added back so they match what was sent)."""
    lines = split_lines(text.strip())
    base = line_offset + _blank_lines_before(text) + 1  # patch line number of lines[0]
    if not lines or lines[0].strip() != BEGIN:
        raise PatchError(f"the first line of the patch must be '{BEGIN}'. {FORMAT_HELP}")
    if len(lines) < 2 or lines[-1].strip() != END:
        raise PatchError(
            f"the last line of the patch must be '{END}' (was the patch cut off?). {FORMAT_HELP}"
        )
    parser = _CodexParser(lines[1:-1], base + 1)
    ops = parser.parse()
    if not ops:
        raise PatchError(
            "the patch contains no file operations: add at least one '*** Add File:', "
            "'*** Delete File:' or '*** Update File:' section"
        )
    return Patch(tuple(ops), "codex")


class _CodexParser:
    """A cursor over the lines between Begin Patch and End Patch."""

    def __init__(self, lines: list[str], first_line_number: int) -> None:
        self.lines = lines
        self.base = first_line_number
        self.i = 0

    def number(self) -> int:
        return self.base + self.i

    def parse(self) -> list[FileOp]:
        ops: list[FileOp] = []
        while self.i < len(self.lines):
            stripped = self.lines[self.i].strip()
            if not stripped:
                self.i += 1
            elif stripped.startswith(ADD):
                ops.append(self.add_file(_path_after(stripped, ADD, self.number())))
            elif stripped.startswith(DELETE):
                path = _path_after(stripped, DELETE, self.number())
                ops.append(DeleteFile(path, patch_line=self.number()))
                self.i += 1
            elif stripped.startswith(UPDATE):
                ops.append(self.update_file(_path_after(stripped, UPDATE, self.number())))
            else:
                raise PatchError(
                    f"patch line {self.number()}: {stripped!r} is not a valid file operation; "
                    f"expected '{ADD} PATH', '{DELETE} PATH' or '{UPDATE} PATH'"
                )
        return ops

    def add_file(self, path: str) -> AddFile:
        start = self.number()
        self.i += 1
        content: list[str] = []
        pending_blank = 0
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.startswith("+"):
                # Blank lines between "+" lines can only mean empty lines of the file.
                content.extend([""] * pending_blank)
                pending_blank = 0
                content.append(line[1:])
            elif not line.strip():
                pending_blank += 1
            else:
                break
            self.i += 1
        return AddFile(path, tuple(content), patch_line=start)

    def update_file(self, path: str) -> UpdateFile:
        start = self.number()
        self.i += 1
        move_to = None
        if self.i < len(self.lines) and self.lines[self.i].strip().startswith(MOVE):
            move_to = _path_after(self.lines[self.i].strip(), MOVE, self.number())
            self.i += 1
        chunks: list[Chunk] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip():
                self.i += 1
                continue
            if line.startswith("*"):
                break
            chunks.append(self.chunk(path, first=not chunks, index=len(chunks) + 1))
        if not chunks:
            raise PatchError(
                f"patch line {start}: '{UPDATE} {path}' has no hunks; add lines such as "
                "'@@', ' context', '-old line', '+new line' after it"
            )
        return UpdateFile(path, tuple(chunks), move_to=move_to, patch_line=start)

    def chunk(self, path: str, *, first: bool, index: int) -> Chunk:
        start = self.number()
        header_line = self.lines[self.i]
        header = header_line.strip()
        context: str | None = None
        hint: int | None = None
        if header == "@@":
            self.i += 1
        elif header.startswith("@@ "):
            context = header[3:].strip() or None
            unified = _UNIFIED_HEADER.match(context or "")
            if unified:
                old_start, old_len = int(unified.group(1)), unified.group(2)
                hint = old_start if old_len == "0" else max(old_start - 1, 0)
                context = unified.group(3).strip() or None
            self.i += 1
        elif first:
            header = ""
        else:
            raise PatchError(
                f"patch line {start}: unexpected line {header_line!r} after hunk {index - 1} of "
                f"{path}. Lines of a hunk start with ' ' (context), '-' (removed) or '+' (added); "
                "a new hunk starts with '@@', a new file section with '*** '"
            )
        body: list[tuple[LineOp, str]] = []
        end_of_file = False
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.rstrip() == END_OF_FILE:
                end_of_file = True
                self.i += 1
                break
            if not line:
                body.append((" ", ""))
            elif line[0] == " " or line[0] == "-" or line[0] == "+":
                body.append((line[0], line[1:]))  # type: ignore[arg-type]
            else:
                if not body:
                    raise PatchError(
                        f"patch line {self.number()}: unexpected line {line!r} in hunk {index} "
                        f"of {path}. Every line of a hunk starts with ' ' (context), '-' "
                        "(removed) or '+' (added), including blank lines and lines that "
                        "themselves begin with one of those characters"
                    )
                break
            self.i += 1
        if not body:
            raise PatchError(f"patch line {start}: hunk {index} of {path} has no lines")
        return Chunk(
            tuple(body),
            context=context,
            end_of_file=end_of_file,
            hint=hint,
            header=header,
            patch_line=start,
        )


def _path_after(line: str, marker: str, number: int) -> str:
    path = line[len(marker) :].strip()
    if not path:
        raise PatchError(f"patch line {number}: '{marker}' needs a path after it")
    return path
