"""Output limits: keep the head and the tail of long output, and say exactly what was cut.

A model reading tool output needs the start (what ran, the first error) and the end (the summary,
the exit status); the middle of a long log is the cheapest part to lose. Every cut leaves a marker
stating how many lines and bytes were dropped and, when the caller supplies one, how to get them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Clipped:
    """The result of :func:`clip`: the text to show and what it stands for."""

    text: str
    total_bytes: int
    total_lines: int
    omitted_bytes: int
    omitted_lines: int

    @property
    def truncated(self) -> bool:
        return self.omitted_bytes > 0


def count_lines(text: str) -> int:
    """Lines as a person counts them: a trailing newline does not start a new line."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def _split_lines(text: str) -> list[str]:
    """Split after each ``\n`` only (``str.splitlines`` would also split on ``\r``, form feeds
    and U+2028, so its pieces would disagree with :func:`count_lines`)."""
    pieces = [line + "\n" for line in text.split("\n")]
    pieces[-1] = pieces[-1][:-1]
    return pieces if pieces[-1] else pieces[:-1]


def _utf8_prefix(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", errors="ignore")


def _utf8_suffix(data: bytes, limit: int) -> str:
    return data[len(data) - limit :].decode("utf-8", errors="ignore") if limit > 0 else ""


def omission_marker(omitted_lines: int, omitted_bytes: int, hint: str = "") -> str:
    """The line that stands in for cut output, e.g. ``[... 120 lines (9.1 KB) omitted ...]``."""
    parts = f"{omitted_lines} lines ({format_size(omitted_bytes)})"
    tail = f"; {hint}" if hint else ""
    return f"[... {parts} omitted{tail} ...]"


def clip(text: str, *, max_bytes: int, max_lines: int | None = None, hint: str = "") -> Clipped:
    """Keep about half the budget from the head and half from the tail, cutting on line ends.

    ``max_bytes`` counts UTF-8 bytes of kept text (the marker is extra and small). Lines are kept
    whole where they fit; a single line longer than the whole budget is cut mid-line, which is
    the only way to show anything of it.
    """
    data = text.encode("utf-8", errors="surrogatepass")
    total_bytes = len(data)
    total_lines = count_lines(text)
    fits_lines = max_lines is None or total_lines <= max_lines
    if total_bytes <= max_bytes and fits_lines:
        return Clipped(text, total_bytes, total_lines, 0, 0)

    lines = _split_lines(text)
    line_budget = max_lines if max_lines is not None else len(lines)
    head_lines_budget = (line_budget + 1) // 2
    tail_lines_budget = line_budget - head_lines_budget
    head_bytes_budget = max_bytes // 2
    tail_bytes_budget = max_bytes - head_bytes_budget

    head: list[str] = []
    used = 0
    for line in lines[:head_lines_budget]:
        size = len(line.encode("utf-8", errors="surrogatepass"))
        if used + size > head_bytes_budget:
            break
        head.append(line)
        used += size
    tail: list[str] = []
    used_tail = 0
    for line in reversed(lines[len(head) :]):
        if len(tail) >= tail_lines_budget:
            break
        size = len(line.encode("utf-8", errors="surrogatepass"))
        if used_tail + size > tail_bytes_budget:
            break
        tail.append(line)
        used_tail += size
    tail.reverse()

    head_text = "".join(head)
    tail_text = "".join(tail)
    if not head and not tail:
        # One enormous line (or a few): show its two ends.
        head_text = _utf8_prefix(data, head_bytes_budget)
        tail_text = _utf8_suffix(data, tail_bytes_budget)
        omitted_lines = max(total_lines - 1, 0) if total_lines > 1 else 0
    else:
        omitted_lines = total_lines - len(head) - len(tail)
    kept_bytes = len(head_text.encode("utf-8", errors="surrogatepass")) + len(
        tail_text.encode("utf-8", errors="surrogatepass")
    )
    omitted_bytes = total_bytes - kept_bytes
    marker = omission_marker(omitted_lines, omitted_bytes, hint)
    joiner = "" if not head_text or head_text.endswith("\n") else "\n"
    shown = f"{head_text}{joiner}{marker}\n{tail_text}"
    return Clipped(shown, total_bytes, total_lines, omitted_bytes, omitted_lines)


def cut_line(line: str, max_chars: int, *, around: int | None = None) -> str:
    """Shorten one long line to about ``max_chars``, marking how much was cut.

    With ``around`` (a character offset, e.g. where a search match starts) the kept window is
    centred there, so the interesting part of a minified file's 200 KB line stays visible.
    """
    if len(line) <= max_chars:
        return line
    if around is None:
        cut = len(line) - max_chars
        return f"{line[:max_chars]}[... {cut} more chars]"
    start = max(0, min(around - max_chars // 2, len(line) - max_chars))
    end = start + max_chars
    before = f"[{start} chars ...]" if start else ""
    after = f"[... {len(line) - end} chars]" if end < len(line) else ""
    return f"{before}{line[start:end]}{after}"


def format_size(size: int) -> str:
    """Human-readable byte count: 512 B, 9.1 KB, 3.2 MB, 1.0 GB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class HeadTailBuffer:
    """A bounded byte buffer for streaming output: the first ``head_bytes`` and the last
    ``tail_bytes`` are kept, everything else is only counted.

    Memory stays at ``head_bytes + tail_bytes`` however much a process prints, which is what
    lets a server survive a command that writes gigabytes.
    """

    def __init__(self, head_bytes: int, tail_bytes: int) -> None:
        self._head_limit = head_bytes
        self._tail_limit = tail_bytes
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0
        self.total_newlines = 0
        self._last_byte = b""

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.total_bytes += len(chunk)
        self.total_newlines += chunk.count(b"\n")
        self._last_byte = chunk[-1:]
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self._tail_limit > 0:
            self._tail += chunk
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]

    @property
    def total_lines(self) -> int:
        if self.total_bytes == 0:
            return 0
        return self.total_newlines + (0 if self._last_byte == b"\n" else 1)

    @property
    def omitted_bytes(self) -> int:
        return self.total_bytes - len(self._head) - len(self._tail)

    def render(self, hint: str = "") -> str:
        """Decode what is kept (invalid UTF-8 becomes U+FFFD) with a marker where bytes were cut."""
        if self.omitted_bytes == 0:
            # Decode head and tail together: a character may straddle the two buffers.
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", errors="replace")
        # Never show half a character where the cut fell inside one: it is not invalid input.
        head_bytes = _without_partial_end(bytes(self._head))
        head = head_bytes.decode("utf-8", errors="replace")
        tail = bytes(self._tail)
        # Start the tail on a line boundary when one is near, so the first kept line is whole.
        newline = tail.find(b"\n", 0, min(len(tail), 4096))
        if newline != -1 and newline + 1 < len(tail):
            tail = tail[newline + 1 :]
        else:
            tail = _without_partial_start(tail)
        omitted = self.total_bytes - len(head_bytes) - len(tail)
        omitted_lines = head_bytes.count(b"\n") + tail.count(b"\n")
        omitted_lines = max(self.total_newlines - omitted_lines, 0)
        marker = omission_marker(omitted_lines, omitted, hint)
        joiner = "" if head.endswith("\n") or not head else "\n"
        return f"{head}{joiner}{marker}\n{tail.decode('utf-8', errors='replace')}"


def _without_partial_end(data: bytes) -> bytes:
    """``data`` minus a UTF-8 sequence cut short at its end (at most 3 bytes dropped)."""
    for back in range(1, min(len(data), 4) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # an ASCII byte or a lead byte: where the last character starts
            need = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return data[:-back] if byte >= 0xC0 and back < need else data
    return data


def _without_partial_start(data: bytes) -> bytes:
    """``data`` minus continuation bytes at its start (the rest of a character cut before it)."""
    start = 0
    while start < min(len(data), 3) and data[start] & 0xC0 == 0x80:
        start += 1
    return data[start:]
