"""A session's output: bounded however much is printed, delivered in pieces, readable by a model.

Each tool call returns the output produced since the previous call on that session. That unread
output lives in a :class:`~servers.common.limits.HeadTailBuffer` sized from the call's
``max_output_tokens`` (about 4 bytes a token), so a command printing a gigabyte costs the server
a few tens of kilobytes, and the model sees how the output started, how it ended, and how much
was cut in between.

What the model reads is also cleaned: terminal escape sequences (colours, cursor movement) are
removed, a line redrawn with carriage returns (progress bars) shows only its final state, and
other control characters become visible symbols (NUL shows as U+2400) instead of vanishing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from servers.common.limits import HeadTailBuffer, clip

BYTES_PER_TOKEN = 4
LATEST_LINE_BYTES = 512
LATEST_LINE_CHARS = 200
CUT_HINT = "redirect the output to a file to keep all of it"

_ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, erase
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|[@-Z\\-_])"  # two-byte sequences
)
_CRLF = re.compile(r"\r+\n")
_CONTROL_PICTURES = {c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A)} | {0x7F: 0x2421}


def sanitize(text: str) -> str:
    """Make terminal output readable as plain text (see the module docstring)."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r" in text:
        text = _CRLF.sub("\n", text)
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if "\r" in line:
                shown = line.rstrip("\r")
                lines[i] = shown[shown.rfind("\r") + 1 :]
        text = "\n".join(lines)
    return text.translate(_CONTROL_PICTURES)


@dataclass(frozen=True, slots=True)
class Piece:
    """Output delivered by one tool call."""

    text: str
    total_bytes: int
    total_lines: int
    omitted_bytes: int
    notes: list[str] = field(default_factory=list)


class SessionOutput:
    """Unread output of one session plus running totals and the latest line (for progress)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pending = self._new_buffer()
        self.total_bytes = 0
        self._recent = bytearray()  # the last bytes printed, for the latest line

    def _new_buffer(self) -> HeadTailBuffer:
        head = self.max_bytes // 2
        return HeadTailBuffer(head, self.max_bytes - head)

    @property
    def unread_bytes(self) -> int:
        return self._pending.total_bytes

    def feed(self, chunk: bytes) -> None:
        self._pending.feed(chunk)
        self.total_bytes += len(chunk)
        self._recent += chunk[-LATEST_LINE_BYTES:]
        del self._recent[:-LATEST_LINE_BYTES]

    def latest_line(self) -> str:
        """The last non-blank line printed so far (possibly still being written), shortened."""
        text = sanitize(self._recent.decode("utf-8", errors="replace")).rstrip()
        line = text[text.rfind("\n") + 1 :].strip()
        return line if len(line) <= LATEST_LINE_CHARS else line[-LATEST_LINE_CHARS:]

    def take(self, max_bytes: int | None = None) -> Piece:
        """Hand over the unread output and start a new buffer.

        ``max_bytes`` changes the cap from now on; if it is smaller than the cap the unread
        output was collected with, that output is clipped further.
        """
        buffer, collected_with = self._pending, self.max_bytes
        if max_bytes is not None:
            self.max_bytes = max_bytes
        self._pending = self._new_buffer()
        text = buffer.render(CUT_HINT)
        omitted = buffer.omitted_bytes
        if self.max_bytes < collected_with:
            clipped = clip(text, max_bytes=self.max_bytes, hint=CUT_HINT)
            if clipped.truncated:
                text = clipped.text
                omitted = min(omitted + clipped.omitted_bytes, buffer.total_bytes)
        text = sanitize(text)
        notes: list[str] = []
        if "\ufffd" in text or "\u2400" in text:
            notes.append(
                "output is not valid UTF-8 text (binary data?): undecodable bytes are shown as "
                "U+FFFD and control characters as symbols such as U+2400 for NUL"
            )
        return Piece(text, buffer.total_bytes, buffer.total_lines, omitted, notes)
