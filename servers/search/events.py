"""rg's ``--json`` output: splitting it into events and decoding the few we show.

Most events are only counted or skipped, so the kind of an event is read from its first bytes
(rg writes ``{"type":"match",...`` for begin/match/context/end) and only events that end up on a
page are decoded: the usual match or context event, in rg's own layout, by :func:`fast_match`
and :func:`fast_context` without building its JSON object, anything else by :func:`parse`.
Paths and lines that are not valid UTF-8 arrive base64-encoded (``{"bytes": ...}``); they are
decoded to bytes and shown with U+FFFD for invalid sequences.

One event is one line of output, and a match in a minified file can make that line many
megabytes long. :class:`LineSplitter` keeps at most ``max_line`` bytes of any line: longer ones
become an :class:`Oversize` holding the line's head and tail, enough to say which file and line
matched without holding the whole thing in memory.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from servers.common.limits import cut_line, format_size

Kind = Literal["begin", "match", "context", "end", "summary", "other"]

_PREFIXES: tuple[tuple[bytes, Kind], ...] = (
    (b'{"type":"match"', "match"),
    (b'{"type":"context"', "context"),
    (b'{"type":"begin"', "begin"),
    (b'{"type":"end"', "end"),
)
MATCH_MARKER = b'{"type":"match"'
"""Inside JSON strings every quote is escaped, so this byte string only starts a match event."""
BEGIN_MARKER = b'{"type":"begin"'
SUMMARY_MARKER = b'{"type":"summary"'
"""The summary's start, in case a future rg writes it in the other events' layout."""
JSON_END = b'"type":"summary"}\n'
"""How a complete ``rg --json`` run ends: rg writes its closing summary with ``type`` last
(``{"data":{...},"type":"summary"}``), unlike every other event. Inside JSON strings every
quote is escaped, so these bytes end no other line."""

HEAD_BYTES = 16 << 10
TAIL_BYTES = 64 << 10
_OVERSIZE_PATH = re.compile(
    rb'^\{"type":"\w+","data":\{"path":\{"(text|bytes)":"((?:[^"\\]|\\.)*)"'
)
_OVERSIZE_LINE = re.compile(rb'"line_number":(\d+),"absolute_offset"')


@dataclass(frozen=True, slots=True)
class Oversize:
    """An event line too long to keep: its first and last bytes and its full size."""

    head: bytes
    tail: bytes
    size: int


Item = bytes | Oversize


class LineSplitter:
    """Turns a stream of chunks into complete lines (without the newline), bounded in memory."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._pending = bytearray()
        self._skipping: tuple[bytes, bytearray, int] | None = None  # head, tail, size so far

    @property
    def pending(self) -> bytes:
        """The incomplete line held so far (its head if it is being skipped)."""
        return bytes(self._pending)

    @property
    def oversize_head(self) -> bytes:
        """The head of the over-long line being skipped, if any."""
        return self._skipping[0] if self._skipping is not None else b""

    def feed(self, chunk: bytes) -> list[Item]:
        out: list[Item] = []
        start = 0
        while start < len(chunk):
            newline = chunk.find(b"\n", start)
            end = len(chunk) if newline == -1 else newline
            piece = chunk[start:end]
            if self._skipping is not None:
                head, tail, size = self._skipping
                tail += piece
                if len(tail) > TAIL_BYTES:
                    del tail[: len(tail) - TAIL_BYTES]
                self._skipping = (head, tail, size + len(piece))
                if newline != -1:
                    out.append(Oversize(head, bytes(tail), size + len(piece)))
                    self._skipping = None
            elif len(self._pending) + len(piece) > self.max_line:
                whole = bytes(self._pending) + piece
                self._pending.clear()
                tail = bytearray(whole[-TAIL_BYTES:])
                if newline != -1:
                    out.append(Oversize(whole[:HEAD_BYTES], bytes(tail), len(whole)))
                else:
                    self._skipping = (whole[:HEAD_BYTES], tail, len(whole))
            elif newline == -1:
                self._pending += piece
            else:
                if self._pending:
                    self._pending += piece
                    out.append(bytes(self._pending))
                    self._pending.clear()
                elif piece:
                    out.append(piece)
            if newline == -1:
                break
            start = newline + 1
        return out


def kind_of(item: Item) -> Kind:
    """The event's type, read from its first bytes (a full parse only for unusual layouts)."""
    head = item.head if isinstance(item, Oversize) else item
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    if isinstance(item, Oversize):
        return "other"
    try:
        value = json.loads(item).get("type")
    except (ValueError, AttributeError):
        return "other"
    if value in ("begin", "match", "context", "end", "summary"):
        return value  # type: ignore[no-any-return]
    return "other"


def data_bytes(value: Any) -> bytes:
    """rg's ``{"text": str}`` or ``{"bytes": base64}`` as raw bytes."""
    if not isinstance(value, dict):
        return b""
    if "text" in value:
        return str(value["text"]).encode("utf-8", errors="surrogatepass")
    if "bytes" in value:
        return base64.b64decode(value["bytes"])
    return b""


@dataclass(slots=True)
class Event:
    """One decoded event. ``lines`` is the raw bytes of the line(s), newline included.

    (Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which
    doubles the cost of building one, and one is built for every event shown.)
    """

    kind: Kind
    path: bytes
    line: int | None = None
    lines: bytes = b""
    submatch_starts: tuple[int, ...] = ()
    binary_offset: int | None = None
    oversize: int | None = None  # size of the event when it was too long to keep
    text: str | None = None  # ``lines`` as rg sent it, when it was UTF-8 (not base64 bytes)


_DECODER = json.JSONDecoder()
"""``json.loads`` minus its per-call encoding detection: rg's JSON is always UTF-8."""


def _load(item: bytes) -> Any:
    """The JSON value on one line. ``raw_decode`` costs half what ``decode`` does for a short
    event (which adds two whitespace regexes and the checks around them); a line it does not
    fill exactly (surrounding whitespace, a broken line) goes through ``decode``, which accepts
    or rejects it as it always did."""
    text = item.decode("utf-8", "surrogatepass")
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        end = -1
    return value if end == len(text) else _DECODER.decode(text)


def parse(item: Item) -> Event:
    """Decode an event fully (only done for events that are shown or that change state)."""
    if isinstance(item, Oversize):
        return _parse_oversize(item)
    obj = _load(item)
    kind = obj.get("type", "other")
    data = obj.get("data") or {}
    path = data_bytes(data.get("path"))
    if kind in ("match", "context"):
        subs = tuple(int(s["start"]) for s in data.get("submatches") or ())
        lines = data.get("lines")
        text = lines.get("text") if isinstance(lines, dict) else None
        return Event(
            kind,
            path,
            data.get("line_number"),
            data_bytes(lines),
            subs,
            text=text if isinstance(text, str) else None,
        )
    if kind == "end":
        return Event(kind, path, binary_offset=data.get("binary_offset"))
    return Event(kind if kind in ("begin", "summary") else "other", path)


_BEGIN_TEXT = re.compile(rb'^\{"type":"begin","data":\{"path":\{"text":"([^"\\]*)"\}\}\}$')
BEGIN_LINE = re.compile(rb'\{"type":"begin","data":\{"path":\{"text":"(?:\./)*([^"\\\n]*)"\}\}\}\n')
"""A plain ``begin`` line, newline included, matched where it starts in a whole run: group 1
is what :func:`begin_path` and then :func:`clean_path` make of it."""


def begin_path(item: Item) -> bytes:
    """The path of a ``begin`` event; plain paths without a JSON parse (one per file)."""
    if isinstance(item, bytes):
        found = _BEGIN_TEXT.match(item)
        if found:
            return found.group(1)
    return parse(item).path


def _parse_oversize(item: Oversize) -> Event:
    kind = kind_of(item)
    path = b""
    found = _OVERSIZE_PATH.match(item.head)
    if found:
        value = json.loads(b'"' + found.group(2) + b'"')
        path = data_bytes({found.group(1).decode(): value})
    line: int | None = None
    numbers = _OVERSIZE_LINE.findall(item.tail)
    if numbers:
        line = int(numbers[-1])
    return Event(kind, path, line, oversize=item.size)


def clean_path(raw: bytes) -> bytes:
    """rg prints ``./x`` when searching ``.``; we show ``x``."""
    while raw.startswith(b"./"):
        raw = raw[2:]
    return raw


SLASH_NUL = bytes.maketrans(b"/\0", b"\0/")
"""Swaps "/" and NUL: applied twice it gives back what it was given."""


def sort_key(raw: bytes) -> bytes:
    """A key whose plain bytes order is ``rg --sort=path`` order (names compared bytewise,
    directory by directory): "/" becomes NUL, which sorts before every byte a file name can
    hold, so ``a/b`` comes before ``a+`` as it does in rg's walk."""
    return clean_path(raw).translate(SLASH_NUL)


def sort_keys(records: bytes) -> list[bytes]:
    """:func:`sort_key` of every path in NUL-terminated ``records`` (paths without ``./``).

    A listing has a record per file in the tree, so this works on a whole chunk with two
    C-level passes instead of a Python call per path: swapping "/" and NUL turns every slash
    into the key's NUL and every record separator into a "/", which no name can hold.
    """
    keys = records.translate(SLASH_NUL).split(b"/")
    keys.pop()  # what follows the last separator: nothing, for complete records
    return keys


def path_of_key(key: bytes) -> bytes:
    """The path a :func:`sort_key` was made from (without ``./``)."""
    return key.translate(SLASH_NUL)


def show(raw: bytes) -> str:
    """Bytes as text for the model: UTF-8, invalid sequences as U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def line_text(raw: bytes, max_chars: int, around_byte: int | None = None) -> str:
    """One physical line for display: no line ending, NUL shown as \\0, cut to about
    ``max_chars`` around ``around_byte`` (a byte offset, e.g. where the match starts)."""
    text = show(raw.rstrip(b"\n").rstrip(b"\r")).replace("\x00", "\\0")
    if len(text) <= max_chars:
        return text
    around = None if around_byte is None else len(show(raw[:around_byte]))
    return cut_line(text, max_chars, around=around)


def match_text(event: Event, max_chars: int) -> tuple[str, int | None]:
    """A match event's line(s) for display, each cut around its first match, and the
    1-indexed character column of the first match."""
    if event.oversize is not None:
        return too_long(event.oversize), None
    one_line = _ascii_line(event, max_chars)
    if one_line is not None:
        return one_line
    pieces: list[str] = []
    column: int | None = None
    start = 0
    for raw in event.lines.rstrip(b"\n").split(b"\n"):
        end = start + len(raw)
        inside = [s - start for s in event.submatch_starts if start <= s <= end]
        first = inside[0] if inside else None
        if column is None and first is not None:
            column = len(show(raw[:first])) + 1
        pieces.append(line_text(raw, max_chars, first))
        start = end + 1
    return "\n".join(pieces), column


def too_long(size: int) -> str:
    """What a page shows for a matching line too long to hold (``size`` bytes)."""
    return f"[matching line too long to show: {format_size(size)}]"


def _ascii_line(event: Event, max_chars: int) -> tuple[str, int | None] | None:
    """:func:`match_text` of the usual match, one line of ASCII text; else None.

    Taken from the decoded JSON string as it is: byte offsets are character offsets in
    ASCII, so nothing is encoded to bytes and decoded back to find the column and the cut.
    """
    if event.text is None or not event.text.isascii():
        return None
    starts = event.submatch_starts
    return _ascii_text(event.text, starts[0] if starts else None, max_chars)


def _ascii_text(text: str, first: int | None, max_chars: int) -> tuple[str, int | None] | None:
    """:func:`_ascii_line` of a line's ASCII text and its first submatch start."""
    body = text.rstrip("\n")
    if "\n" in body or (first is not None and first > len(body)):
        return None
    shown = body.rstrip("\r").replace("\x00", "\\0")
    if len(shown) > max_chars:
        shown = cut_line(shown, max_chars, around=first)
    return shown, None if first is None else first + 1


# The usual match or context event, in the layout and key order rg writes: the part before
# the ``lines`` text and the part after it, as patterns over the decoded line. Their strings
# and numbers follow JSON's grammar exactly (no raw control characters, only valid escapes, no
# leading zeros), and the text between them is read by the JSON decoder's own string scanner,
# so a line they accept is one ``json.loads`` accepts, with the same values.
_STR = r'[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*'
_INT = r"(?:0|[1-9][0-9]{0,17})"
_SUBMATCH = rf'\{{"match":\{{"(?:text|bytes)":"{_STR}"\}},"start":START,"end":{_INT}\}}'
_FIRST_SUBMATCH = _SUBMATCH.replace("START", f"({_INT})")
_MORE_SUBMATCH = _SUBMATCH.replace("START", _INT)
_LINES_HEAD = re.compile(
    rf'\{{"type":"(?:match|context)","data":\{{"path":\{{"text":"{_STR}"\}},"lines":\{{"text":"'
)
_LINES_TAIL = re.compile(
    rf'\}},"line_number":({_INT}),"absolute_offset":{_INT},"submatches":\['
    rf"(?:{_FIRST_SUBMATCH}(?:,{_MORE_SUBMATCH})*)?"
    r"\]\}\}\Z"
)
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
"""The JSON decoder's own (strict) string reader: the value and end of the string whose
opening quote is just before the given index."""
_TAIL_MAX = 1 << 10
"""Beyond this the submatches are left to ``json.loads``, which reads a long string (a
``.*`` match on a minified line, hundreds of submatches) faster than a pattern does."""


def _fast_lines(item: Item) -> tuple[int, str, int | None] | None:
    """A usual match or context event's line number, ``lines`` text and first submatch start,
    without building the JSON object; None for an event of any other shape."""
    if not isinstance(item, bytes):
        return None
    try:
        line = item.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    head = _LINES_HEAD.match(line)
    if head is None:
        return None
    try:
        text, end = _scanstring(line, head.end())
    except ValueError:
        return None
    if len(line) - end > _TAIL_MAX:
        return None
    tail = _LINES_TAIL.match(line, end)
    if tail is None:
        return None
    number, start = tail.groups()
    return int(number), text, None if start is None else int(start)


def fast_match(item: Item, max_chars: int) -> tuple[int, str, int | None] | None:
    """``(line, text, column)`` of a match event as ``parse`` and :func:`match_text` give them,
    for the usual one-line match; None for anything else (the caller then parses it fully).

    A page decodes every match it shows; this skips the JSON object, the :class:`Event` and,
    for ASCII text, the round trip through bytes.
    """
    decoded = _fast_lines(item)
    if decoded is None:
        return None
    number, text, first = decoded
    if text.isascii():
        shown = _ascii_text(text, first, max_chars)
        return None if shown is None else (number, *shown)
    raw = text.encode("utf-8", "surrogatepass").rstrip(b"\n")
    if b"\n" in raw or (first is not None and first > len(raw)):
        return None
    return number, *raw_match_text(raw, first, max_chars)


def raw_match_text(raw: bytes, first: int | None, max_chars: int) -> tuple[str, int | None]:
    """``(text, column)`` of one matching line given as raw bytes (line ending included or
    not) with its first match at byte ``first``: what :func:`match_text` gives for it."""
    if raw.isascii():
        shown = _ascii_text(raw.decode("ascii"), first, max_chars)
        if shown is not None:
            return shown
    column = None if first is None else len(show(raw[:first])) + 1
    return line_text(raw, max_chars, first), column


def fast_context(item: Item, max_chars: int) -> tuple[int, str] | None:
    """``(line, text)`` of a context event as ``parse`` and :func:`line_text` give them, for
    the usual one-line layout (ASCII text without the round trip through bytes); None for
    anything else."""
    decoded = _fast_lines(item)
    if decoded is None:
        return None
    number, text, _ = decoded
    if not text.isascii():
        return number, line_text(text.encode("utf-8", "surrogatepass"), max_chars)
    shown = _ascii_text(text, None, max_chars)
    return None if shown is None else (number, shown[0])
