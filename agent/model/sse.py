"""An incremental ``text/event-stream`` parser over raw bytes.

The model's answer streams as server-sent events. This parser takes the bytes as they come off
the socket, in chunks cut anywhere, and returns each complete event as ``(event, data)`` with
``data`` still bytes: the caller can drop an event by its name without decoding it, and hands
the rest straight to ``json.loads``. It follows the WHATWG rules that matter for a client
reading one stream: lines end in LF, CRLF or CR; ``:`` starts a comment; a field's value loses
one leading space; ``data`` lines join with LF; a blank line dispatches; an event with no data
is dropped; ``id`` and ``retry`` are ignored (a stream that breaks is re-requested whole, never
resumed).
"""

from __future__ import annotations

__all__ = ["SseParser"]


class SseParser:
    """Feed bytes with :meth:`feed`; each call returns the events those bytes completed."""

    __slots__ = ("_buffer", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[bytes] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[tuple[str, bytes]]:
        if self._pending_cr:  # a CR ended the last chunk: a following LF belongs to it
            self._pending_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()  # the unfinished line (b"" after a complete one)
        events: list[tuple[str, bytes]] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append((self._event or "message", b"\n".join(self._data)))
                    self._data = []
                self._event = ""
                continue
            if line[0] == 0x3A:  # ":" comment (keep-alive pings look like this)
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
        return events
