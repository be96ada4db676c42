"""Reading a slice of a text file without reading the rest of it.

Lines before ``offset`` are skipped by counting newlines in large binary chunks (``bytes.count``
runs at memory speed), so reading near the end of a 1 GB file costs one sequential scan and a
few megabytes of memory, not a Python loop over ten million lines or a copy of the file.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from servers.common.binary import SNIFF_BYTES, has_nul
from servers.common.limits import format_size

CHUNK = 1 << 20
MAX_LINE_CHARS = 2000
MAX_LINE_BYTES = MAX_LINE_CHARS * 4

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive (or a format built on it: jar, docx, wheel)"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\x7fELF", "ELF executable"),
    (b"\xfe\xed\xfa", "Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"MZ", "Windows executable"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\x00asm", "WebAssembly module"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class NotTextError(ValueError):
    """The file is binary; the message gives its size and what it looks like."""


@dataclass(slots=True)
class FileSlice:
    """Lines ``first_line`` .. ``first_line + len(lines) - 1`` of a file, ready to show."""

    lines: list[str]
    first_line: int
    encoding: str
    more: bool
    line_endings: str
    notes: list[str] = field(default_factory=list)

    @property
    def next_offset(self) -> int | None:
        return self.first_line + len(self.lines) if self.more else None


def sniff_kind(head: bytes) -> str | None:
    """Name the binary format of a file from its first bytes, or None if it looks like text."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            if name.startswith("Windows") and b"\x00" not in head:
                continue  # "MZ" is also the start of plenty of text files
            if name.startswith("bzip2") and not _is_bzip2_header(head):
                continue  # so is "BZh"; a real stream has a level digit and a block magic next
            return name
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP image"
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return None
    if has_nul(head):
        return "binary data (contains NUL bytes)"
    return None


def _is_bzip2_header(head: bytes) -> bool:
    return head[3:4] in b"123456789" and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90")


def detect_encoding(head: bytes) -> str:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return "utf-8"


def read_slice(path: Path, offset: int = 1, limit: int = 2000) -> FileSlice:
    """Read ``limit`` lines starting at 1-indexed line ``offset``; see the module docstring."""
    if offset < 1:
        raise ValueError("offset is 1-indexed and must be at least 1")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
        kind = sniff_kind(head)
        if kind is not None:
            raise NotTextError(
                f"{path.name} is a binary file ({kind}, {format_size(size)}); read_file shows "
                "text only. Use view_image for images, or a shell command to inspect it."
            )
        encoding = detect_encoding(head)
        if encoding != "utf-8" and encoding != "utf-8-sig":
            return _read_wide(path, encoding, offset, limit)
        f.seek(len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0)
        reached = _skip_lines(f, offset - 1)
        result = _collect(f, offset, limit, encoding)
        if offset > 1 and not result.lines:
            raise ValueError(
                f"offset {offset} is past the end of the file ({reached} lines); "
                f"use an offset between 1 and {max(reached, 1)}"
            )
        return result


def _skip_lines(f: BinaryIO, count: int) -> int:
    """Advance ``f`` past ``count`` newlines; return how many lines were actually skipped."""
    if count == 0:
        return 0
    seen = 0
    begin = f.tell()  # after a byte-order mark, which is no line of its own
    while True:
        start = f.tell()
        chunk = f.read(CHUNK)
        if not chunk:
            # A last line without a newline still counts as a line.
            last_partial = 1 if start > begin and _ends_without_newline(f, start) else 0
            return seen + last_partial
        found = chunk.count(b"\n")
        if seen + found >= count:
            index = -1
            for _ in range(count - seen):
                index = chunk.index(b"\n", index + 1)
            f.seek(start + index + 1)
            return count
        seen += found


def _ends_without_newline(f: BinaryIO, end: int) -> bool:
    f.seek(end - 1)
    return f.read(1) != b"\n"


def _collect(f: BinaryIO, offset: int, limit: int, encoding: str) -> FileSlice:
    lines: list[str] = []
    notes: list[str] = []
    crlf = lf = 0
    invalid = cut = 0
    more = False
    while True:
        raw = f.readline(MAX_LINE_BYTES)
        if not raw:
            break
        if len(lines) == limit:
            more = True
            break
        extra = 0
        ending = b""
        if not raw.endswith(b"\n") and len(raw) == MAX_LINE_BYTES:
            # The read stopped at the size cap: the line is whole only if its ending comes next.
            after = f.read(2)
            f.seek(-len(after), 1)
            if after[:1] == b"\n" or after == b"\r\n":
                ending = after[:1] if after[:1] == b"\n" else after
                f.seek(len(ending), 1)
                raw += ending
            else:
                extra, ending = _skip_rest_of_line(f)
        if raw.endswith(b"\r\n"):
            crlf += 1
            raw = raw[:-2]
        elif raw.endswith(b"\n"):
            lf += 1
            raw = raw[:-1]
        elif ending:
            crlf += ending == b"\r\n"
            lf += ending == b"\n"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            if not extra:
                invalid += 1
        if len(text) > MAX_LINE_CHARS or extra:
            kept = text[:MAX_LINE_CHARS]
            if extra:  # counted in bytes: the rest of the line was skipped, never decoded
                hidden = len(raw) - len(kept.encode("utf-8", errors="surrogatepass")) + extra
                unit = "bytes"
            else:
                hidden, unit = len(text) - MAX_LINE_CHARS, "chars"
            text = f"{kept}[... line cut: {max(hidden, 0)} more {unit}]"
            cut += 1
        lines.append(text)
    if invalid:
        notes.append(
            f"{invalid} line(s) are not valid UTF-8; undecodable bytes are shown as U+FFFD"
        )
    if cut:
        notes.append(f"{cut} line(s) longer than {MAX_LINE_CHARS} characters were cut")
    if encoding == "utf-8-sig":
        notes.append("the file starts with a UTF-8 byte-order mark (not shown)")
    endings = "crlf" if crlf and not lf else "mixed" if crlf and lf else "lf"
    return FileSlice(lines, offset, encoding, more, endings, notes)


def _skip_rest_of_line(f: BinaryIO) -> tuple[int, bytes]:
    """Move past the next newline; return the bytes skipped before the line ending, and the
    ending itself (empty at end of file)."""
    skipped = 0
    last = b""
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return skipped, b""
        newline = chunk.find(b"\n")
        if newline != -1:
            f.seek(-(len(chunk) - newline - 1), 1)
            crlf = (chunk[newline - 1 : newline] if newline else last) == b"\r"
            return skipped + newline - crlf, b"\r\n" if crlf else b"\n"
        skipped += len(chunk)
        last = chunk[-1:]


def _read_wide(path: Path, encoding: str, offset: int, limit: int) -> FileSlice:
    """UTF-16/32 files: rare enough in source trees that a streaming text reader will do."""
    lines: list[str] = []
    more = False
    crlf = lf = 0
    with path.open("r", encoding=encoding, errors="replace", newline="") as f:
        for number, line in enumerate(f, start=1):
            if number < offset:
                continue
            if len(lines) == limit:
                more = True
                break
            if line.endswith("\r\n"):
                crlf += 1
            elif line.endswith("\n"):
                lf += 1
            text = line.rstrip("\r\n")
            if len(text) > MAX_LINE_CHARS:
                hidden = len(text) - MAX_LINE_CHARS
                text = f"{text[:MAX_LINE_CHARS]}[... line cut: {hidden} more chars]"
            lines.append(text)
    if not lines and offset > 1:
        raise ValueError(f"offset {offset} is past the end of the file")
    endings = "crlf" if crlf and not lf else "mixed" if crlf and lf else "lf"
    return FileSlice(lines, offset, encoding, more, endings, [f"decoded as {encoding} (BOM)"])


def render_slice(s: FileSlice, display_path: str) -> str:
    """Numbered lines as the model reads them, then notes and how to continue."""
    width = len(str(s.first_line + max(len(s.lines) - 1, 0)))
    body = "\n".join(f"{n:>{width}}\t{line}" for n, line in enumerate(s.lines, start=s.first_line))
    trailer = list(s.notes)
    if s.line_endings != "lf":
        trailer.append(f"line endings: {s.line_endings.upper()} (shown without \\r)")
    if s.next_offset is not None:
        trailer.append(
            f"showing lines {s.first_line}-{s.next_offset - 1}; more lines follow. "
            f"Continue with read_file(path={display_path!r}, offset={s.next_offset})"
        )
    if not s.lines:
        body = "(empty file)"
    return body + ("\n\n" + "\n".join(f"[{t}]" for t in trailer) if trailer else "")
