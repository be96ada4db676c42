"""Turning rg's output into one page of results: skip ``offset``, keep ``limit``, count the rest.

Every sink here is fed raw stdout chunks and never holds more than the page (plus the context
lines around it): a search with a million matches costs the same memory as one with a hundred.
Paging is only consistent if rg produces results in the same order on every call; the caller
makes sure of that (``--sort=path``, or a full unordered run replayed in that order with
:class:`UnorderedBuffer`).

Once the page is complete a sink stops decoding and only counts what follows with
``bytes.count`` on the raw chunks, which runs at memory speed, so the runner can afford to let rg
finish a small search and report exactly how many results the next pages hold.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from servers.search.events import (
    BEGIN_LINE,
    BEGIN_MARKER,
    HEAD_BYTES,
    JSON_END,
    MATCH_MARKER,
    SLASH_NUL,
    SUMMARY_MARKER,
    TAIL_BYTES,
    Item,
    LineSplitter,
    Oversize,
    begin_path,
    clean_path,
    fast_context,
    fast_match,
    kind_of,
    line_text,
    match_text,
    parse,
    raw_match_text,
    sort_key,
    too_long,
)

PathFilter = Callable[[bytes], bool]
"""Returns False for a path that must not be shown (a symlink that leads out of the roots)."""

MAX_EVENT_BYTES = 1 << 20


@dataclass(slots=True)
class Line:
    """A context line, already cut for display."""

    number: int
    text: str


@dataclass(slots=True)
class PageMatch:
    """A match on the page, already cut for display: a page holds at most ``limit`` of these
    however long the lines were (a minified file's 900 KB line becomes ~500 characters)."""

    path: bytes  # as rg printed it, "./" removed
    line: int | None
    text: str
    column: int | None
    last_line: int  # the last line the match spans (multiline matches span several)
    before: list[Line] = field(default_factory=list)
    after: list[Line] = field(default_factory=list)


def _weight(text: str) -> int:
    """Roughly how many characters a line adds to the rendered page."""
    return len(text) + 16


class Refused:
    """Paths a :data:`PathFilter` refused: counted, with a few kept as examples."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[bytes] = []

    def add(self, path: bytes) -> None:
        self.count += 1
        if len(self.examples) < 3:
            self.examples.append(path)


class ContentPage:
    """Consumes ``rg --json`` output in a stable order and keeps matches offset..offset+limit-1.

    Context lines between two matches go to the earlier match (as ``after``) while within
    ``context`` lines of it, else to the later one (as ``before``). A page also ends early when
    its rendered size would pass ``max_chars``; ``shown_until`` then points at the first match
    not shown, so the next page starts exactly there.
    """

    coalesce = False  # streams: the sooner the page is complete, the sooner rg is stopped

    def __init__(
        self,
        offset: int,
        limit: int,
        *,
        context: int = 0,
        max_chars: int = 60_000,
        max_line_chars: int = 500,
        path_filter: PathFilter | None = None,
    ) -> None:
        self.offset = offset
        self.limit = limit
        self.context = context
        self.max_chars = max_chars
        self.max_line_chars = max_line_chars
        self.path_filter = path_filter
        self.matches: list[PageMatch] = []
        self.skipped = 0  # matches before the page
        self.more = 0  # matches seen after the page
        self.cut_by_size = False
        self.binary_files: dict[bytes, int] = {}
        self.refused = Refused()
        self._splitter = LineSplitter(MAX_EVENT_BYTES)
        self._chars = 0
        self._path = b""
        self._allowed = True
        self._last_here = False  # the last page match is in the current file
        self._pending: deque[Line] = deque(maxlen=max(context, 1))
        self._full = False
        self._counting = False  # the page is complete: only counting remains
        self._tail = b""

    @property
    def satisfied(self) -> bool:
        return self._counting

    @property
    def stop(self) -> bool:
        return False

    @property
    def has_more(self) -> bool:
        return self.more > 0

    @property
    def shown_until(self) -> int:
        """Offset just past the last match on this page."""
        return self.offset + len(self.matches)

    def feed(self, chunk: bytes) -> None:
        if self._counting:
            self._count_raw(chunk)
            return
        items = self._splitter.feed(chunk)
        for index, item in enumerate(items):
            self.feed_item(item)
            if self.satisfied:  # (a property: feed_item may have changed it)
                for rest in items[index + 1 :]:
                    self._count_item(rest)
                self._begin_raw()
                return

    def feed_item(self, item: Item) -> None:
        """One event, in page order (also used to replay a sorted unordered run)."""
        if self._counting:
            self._count_item(item)
            return
        kind = kind_of(item)
        if kind == "match":
            self._on_match(item)
        elif kind == "context":
            if self.context and self._allowed:
                fast = fast_context(item, self.max_line_chars)
                if fast is None:
                    event = parse(item)
                    fast = event.line or 0, line_text(event.lines, self.max_line_chars)
                self._on_context(Line(*fast))
        elif kind == "begin":
            self.enter_file(clean_path(begin_path(item)))
        elif kind == "end":
            known_text = isinstance(item, bytes) and b'"binary_offset":null' in item
            self.end_file(None if known_text else parse(item).binary_offset)

    def end_file(self, binary_offset: int | None = None) -> None:
        """The current file's events are over (what an ``end`` event says); rg stopped at
        ``binary_offset`` when it found the file to be binary."""
        if binary_offset is not None and self._allowed:
            self.binary_files[self._path] = binary_offset
        if self._full:
            self._counting = True
        self._last_here = False
        self._pending.clear()

    def enter_file(self, path: bytes) -> None:
        """Events that follow belong to ``path`` (what a ``begin`` event says)."""
        self._path = path
        self._last_here = False
        self._pending.clear()
        self._allowed = True
        if self.path_filter is not None and not self.path_filter(path):
            self._allowed = False
            self.refused.add(path)

    def _on_match(self, item: Item) -> None:
        if not self.take_match():
            return
        fast = fast_match(item, self.max_line_chars)
        if fast is None:
            event = parse(item)
            number: int | None = event.line
            text, column = match_text(event, self.max_line_chars)
        else:
            number, text, column = fast
        self.add_match(number, text, column)

    def take_match(self) -> bool:
        """Account for the next match; True when it goes on the page, and the caller then
        decodes it and hands it to :meth:`add_match` (so matches skipped for the offset,
        counted after the page or in a refused file are never decoded)."""
        if not self._allowed:
            return False
        if self._full:
            self.more += 1
            self._counting = True
            return False
        if self.skipped < self.offset:
            self.skipped += 1
            self._pending.clear()
            return False
        return True

    def add_match(self, number: int | None, text: str, column: int | None) -> None:
        """A match :meth:`take_match` took, decoded and cut for display."""
        first = number or 0
        last_line = first + text.count("\n")
        weight = _weight(text) + len(self._path)
        before: list[Line] = []
        if self._pending:
            before = [line for line in self._pending if line.number >= first - self.context]
            weight += sum(_weight(line.text) for line in before)
        if self.matches and self._chars + weight > self.max_chars:
            self.cut_by_size = True
            self.more += 1
            self._full = self._counting = True
            return
        self._chars += weight
        self.matches.append(PageMatch(self._path, number, text, column, last_line, before))
        self._last_here = True
        self._pending.clear()
        if len(self.matches) >= self.limit:
            self._full = True
            self._counting = not self.context

    def add_context(self, number: int, text: str) -> None:
        """A context line, in page order, already cut for display (what a ``context`` event
        says)."""
        if not self._counting and self.context and self._allowed:
            self._on_context(Line(number, text))

    def _on_context(self, line: Line) -> None:
        last = self.matches[-1] if self._last_here else None
        if (
            last is not None
            and 0 < line.number - last.last_line <= self.context
            and len(last.after) < self.context
        ):
            last.after.append(line)
            self._chars += _weight(line.text)
            if self._full and len(last.after) >= self.context:
                self._counting = True
            return
        if self._full:
            self._counting = True
            return
        self._pending.append(line)

    def count_file(self, path: bytes, matches: int) -> None:
        """A whole file after the page: only its matches count (if it may be shown at all)."""
        if self.path_filter is not None and not self.path_filter(path):
            self.refused.add(path)
            return
        self.more += matches

    def _count_item(self, item: Item) -> None:
        kind = kind_of(item)
        if kind == "begin" and self.path_filter is not None:
            self.enter_file(clean_path(begin_path(item)))
        elif kind == "match" and self._allowed:
            self.more += 1

    def _begin_raw(self) -> None:
        """Switch to counting raw bytes, starting with what the splitter still holds."""
        if self.path_filter is not None:
            return  # counting must skip files outside the roots: keep splitting into events
        held = self._splitter.pending
        if self._splitter.oversize_head.startswith(MATCH_MARKER):
            self.more += 1
        self._splitter = LineSplitter(MAX_EVENT_BYTES)
        self._tail = b""
        self._count_raw(held)

    def _count_raw(self, chunk: bytes) -> None:
        if self.path_filter is not None:
            for item in self._splitter.feed(chunk):
                self._count_item(item)
            return
        data = self._tail + chunk
        self.more += data.count(MATCH_MARKER)
        self._tail = data[-(len(MATCH_MARKER) - 1) :]


class UnorderedBuffer:
    """Holds a whole unordered (parallel) rg run, up to ``cap`` matches, to replay it sorted.

    rg searches files in parallel and prints each file's events in one piece (``begin`` ...
    ``end``), in a different file order on every run. If the run has at most ``cap`` matches
    (and ``max_bytes`` of output) it is kept in full and replayed in path order, which gives
    exactly the pages a sorted run would. Beyond that it gives up (``stop``) and the caller
    runs rg again, sorted; ``matches`` then still says how many were seen, a lower bound.

    While rg runs, chunks are only stored and their matches counted with ``bytes.count``:
    rg blocks when the pipe is full, so any per-event work here would slow rg down.
    """

    coalesce = True  # sorts the whole run (an overflow seen a moment late costs nothing)
    marker = MATCH_MARKER
    """Bytes that occur once per match in rg's output, and nowhere else."""

    def __init__(self, cap: int, max_bytes: int = 4 << 20) -> None:
        self.cap = cap
        self.max_bytes = max_bytes
        self.matches = 0
        self.size = 0
        self.overflow = False
        self._chunks: list[bytes] = []
        self._tail = b""

    @property
    def satisfied(self) -> bool:
        return False

    @property
    def stop(self) -> bool:
        return self.overflow

    def feed(self, chunk: bytes) -> None:
        if self.overflow:
            return
        self.matches += self._count(chunk)
        self.size += len(chunk)
        self._chunks.append(chunk)
        if self.matches > self.cap or self.size > self.max_bytes:
            self.overflow = True
            self._chunks.clear()

    def _count(self, chunk: bytes) -> int:
        """The matches ``chunk`` completes. A marker split between two chunks lies in the last
        bytes before this chunk and its first ones; no marker fits in ``keep`` bytes, so that
        window holds only split ones."""
        marker = self.marker
        keep = len(marker) - 1
        found = chunk.count(marker)
        if keep:
            found += (self._tail + chunk[:keep]).count(marker)
            self._tail = chunk[-keep:] if len(chunk) >= keep else (self._tail + chunk)[-keep:]
        return found

    def replay(self, page: ContentPage) -> bool:
        """Feed the buffered run to ``page`` file by file in path order (and return True: a
        ``--json`` run is always readable). Files after the page is complete are only
        counted, with ``bytes.count`` over their events."""
        data = b"".join(self._chunks)
        data = data[: data.rfind(b"\n") + 1]  # a line cut short (rg timed out) is left out
        spans = file_spans(data)
        spans.sort(key=lambda span: span[0].translate(SLASH_NUL))  # sort_key of a clean path
        # Without a path filter every file after the page counts in full: their matches are
        # the run's total less those in the files fed event by event (one count, not one per
        # file).
        count_by_file = page.path_filter is not None
        fed = 0
        for path, start, end in spans:
            if page.satisfied:
                if not count_by_file:
                    page.more += data.count(MATCH_MARKER) - fed
                    return True
                page.count_file(path, data.count(MATCH_MARKER, start, end))
                continue
            if not count_by_file:
                fed += data.count(MATCH_MARKER, start, end)
            page.enter_file(path)
            for line in data[start:end].split(b"\n"):
                if len(line) > MAX_EVENT_BYTES:
                    page.feed_item(Oversize(line[:HEAD_BYTES], line[-TAIL_BYTES:], len(line)))
                elif line:
                    page.feed_item(line)
        return True


class UnorderedLines(UnorderedBuffer):
    """:class:`UnorderedBuffer` for rg's plain output (the ``lines`` run of
    :func:`~servers.search.rg.grep_argv`): ``path NUL line:column:text`` per matching line,
    and with ``context`` lines, ``path NUL line-text`` per context line.

    rg writes it for less than ``--json`` (0.6-0.7 ms less of a 17-22 ms search of the standard
    library, measured), and a line decodes with one split and a short pattern. It can say
    everything a page needs when there are no multiline matches (the caller's choice). Every
    line holds exactly one NUL, after its path (a NUL in a file makes rg treat it as binary and
    stop before that line), so without context lines NULs count the matches; with them, a
    match is a NUL, digits and a colon. The one other line rg writes there is its note on a
    binary file that matched before its first NUL. Anything else (a path with a newline in
    it) makes :meth:`replay` refuse, and the caller searches again with ``--json``.
    """

    marker = b"\0"

    def __init__(self, cap: int, max_bytes: int = 4 << 20, *, context: int = 0) -> None:
        super().__init__(cap, max_bytes)
        self.context = context
        self._partial = b""  # the line the last chunk left unfinished (with context lines)

    def _count(self, chunk: bytes) -> int:
        if not self.context:
            return super()._count(chunk)
        # Complete lines only: a match's head never spans two of them.
        end = chunk.rfind(b"\n") + 1
        if not end:
            self._partial += chunk
            return 0
        found = len(_MATCH_HEAD.findall(self._partial + chunk[:end]))
        self._partial = chunk[end:]
        return found

    def replay(self, page: ContentPage) -> bool:
        """Feed the run to ``page`` file by file in path order; False, with nothing fed, when
        a line is not one this class can read."""
        data = b"".join(self._chunks)
        data = data[: data.rfind(b"\n") + 1]  # a line cut short (rg timed out) is left out
        lines = data.split(b"\n")
        lines.pop()
        context = self.context
        # With context lines, feed() counted the matches over these same complete lines.
        total = self.matches if context else data.count(b"\0")
        files: dict[bytes, list[bytes]] = {}
        binary: dict[bytes, int] = {}
        prefix = b"\0"  # (no line starts with a NUL)
        group: list[bytes] = []
        for line in lines:
            if line.startswith(prefix):  # rg writes a file's lines together
                group.append(line)
                continue
            nul = line.find(b"\0")
            if nul >= 0:
                prefix = line[: nul + 1]
                group = files.setdefault(line[:nul], [])
                group.append(line)
                continue
            note = _BINARY_NOTE.fullmatch(line)
            if note is None:
                return False
            binary[note[1]] = int(note[2])
            files.setdefault(note[1], [])
        fed = 0
        limit = page.max_line_chars
        for path in sorted(files, key=sort_key):
            if page.satisfied:
                page.more += total - fed
                return True
            found = files[path]
            page.enter_file(clean_path(path))
            nul = len(path)
            if not context:
                fed += len(found)
                for line in found:
                    if page.take_match():  # only the lines shown are read
                        _add_plain_match(page, line, _PLAIN_LINE.match(line, nul), nul, limit)
            else:
                for line in found:
                    head = _PLAIN_LINE.match(line, nul)
                    if head is not None and head[3] is None:  # a context line
                        if not page.satisfied:
                            text = _plain_context_text(line, head.end(), limit)
                            page.add_context(int(head[1]), text)
                        continue
                    fed += 1
                    if page.take_match():
                        _add_plain_match(page, line, head, nul, limit)
            page.end_file(binary.get(path))
        return True


def _add_plain_match(
    page: ContentPage, line: bytes, head: re.Match[bytes] | None, nul: int, limit: int
) -> None:
    """Decode a matching line of rg's plain output (its path ``nul`` bytes long, ``head`` its
    :data:`_PLAIN_LINE`) onto ``page``."""
    if head is None or head[3] is None:  # not a match in rg's layout (never seen): show it all
        page.add_match(None, raw_match_text(line[nul + 1 :], None, limit)[0], None)
    elif len(line) > MAX_EVENT_BYTES:  # as the --json runs show it
        page.add_match(int(head[1]), too_long(len(line)), None)
    else:
        column = int(head[3])
        text, shown_column = raw_match_text(line[head.end() :], column - 1, limit)
        page.add_match(int(head[1]), text, shown_column)


def _plain_context_text(line: bytes, start: int, limit: int) -> str:
    """A context line's text as the ``--json`` runs show it (one too long to hold: empty)."""
    if len(line) > MAX_EVENT_BYTES:
        return ""
    return raw_match_text(line[start:], None, limit)[0]


_PLAIN_LINE = re.compile(rb"\0([0-9]+)(-|:([0-9]+):)")
"""What follows the path on a line of rg's plain output: the line number, then the (byte)
column of a match (``line:column:text``) or nothing for a context line (``line-text``)."""
_MATCH_HEAD = re.compile(rb"\0[0-9]+:")
"""Once on each matching line of plain output with context lines, and nowhere else."""
_BINARY_NOTE = re.compile(
    rb'(.*): WARNING: stopped searching binary file after match \(found "\\0" byte around '
    rb"offset ([0-9]+)\)",
    re.DOTALL,
)
"""rg's note, on stdout, for a binary file with matches before its first NUL (``--json``
gives the same offset as the ``end`` event's ``binary_offset``)."""

_NEXT_BEGIN = b'\n{"type":"begin"'


def file_spans(data: bytes) -> list[tuple[bytes, int, int]]:
    """Each file in a whole unordered ``rg --json`` run (complete lines): its path (``./``
    removed) and where its events after ``begin`` start and end in ``data``.

    rg writes each file's events in one piece (``begin`` to ``end``), so a file's events run
    to the next ``begin`` line, or to the closing summary. Finding those lines with
    ``bytes.find`` costs a little per file, where splitting the run into lines cost per event.
    (An event is one line: newlines and quotes inside its JSON strings are escaped.)
    """
    last_line = data.rfind(b"\n", 0, len(data) - 1) + 1
    ends_with_summary = data.endswith(JSON_END) or data.startswith(SUMMARY_MARKER, last_line)
    stop = last_line if ends_with_summary else len(data)
    if data.startswith(BEGIN_MARKER):
        begin = 0
    else:
        begin = data.find(_NEXT_BEGIN, 0, stop) + 1
        if not begin:
            return []
    spans: list[tuple[bytes, int, int]] = []
    while True:
        found = data.find(_NEXT_BEGIN, begin, stop)
        end = stop if found == -1 else found + 1
        plain = BEGIN_LINE.match(data, begin, end)
        if plain is not None:
            spans.append((plain[1], plain.end(), end))
        else:
            line_end = data.find(b"\n", begin, end)
            if line_end == -1:
                line_end = end
            spans.append((clean_path(begin_path(data[begin:line_end])), line_end + 1, end))
        if found == -1:
            return spans
        begin = found + 1


@dataclass(frozen=True, slots=True)
class FileHit:
    path: bytes
    count: int


class _RecordParser:
    """``path NUL count NEWLINE`` records from ``rg --count --null``; paths may hold newlines."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[FileHit]:
        self._buffer += chunk
        out: list[FileHit] = []
        start = 0
        while True:
            nul = self._buffer.find(b"\0", start)
            if nul == -1:
                break
            newline = self._buffer.find(b"\n", nul)
            if newline == -1:
                break
            path = clean_path(bytes(self._buffer[start:nul]))
            out.append(FileHit(path, int(self._buffer[nul + 1 : newline] or b"0")))
            start = newline + 1
        del self._buffer[:start]
        return out

    @property
    def pending(self) -> bytes:
        return bytes(self._buffer)


class FilesPage:
    """``rg --count --null --sortr=modified``: a page of files (newest first) with counts."""

    coalesce = False  # streams in rg's order

    def __init__(self, offset: int, limit: int, path_filter: PathFilter | None = None) -> None:
        self.offset = offset
        self.limit = limit
        self.path_filter = path_filter
        self.files: list[FileHit] = []
        self.seen = 0
        self.more = 0
        self.refused = Refused()
        self._parser = _RecordParser()
        self._counting = False

    @property
    def satisfied(self) -> bool:
        return self._counting

    @property
    def stop(self) -> bool:
        return False

    @property
    def shown_until(self) -> int:
        return self.offset + len(self.files)

    def feed(self, chunk: bytes) -> None:
        if self._counting and self.path_filter is None:
            self.more += chunk.count(b"\0")
            return
        hits = self._parser.feed(chunk)
        for hit in hits:
            if self.path_filter is not None and not self.path_filter(hit.path):
                self.refused.add(hit.path)
                continue
            if self._counting:
                self.more += 1
            elif self.seen < self.offset:
                self.seen += 1
            else:
                self.seen += 1
                self.files.append(hit)
                if len(self.files) >= self.limit:
                    self._counting = True
        if self._counting and self.path_filter is None:
            self.more += self._parser.pending.count(b"\0")
            self._parser = _RecordParser()


class CountTally:
    """``rg --count --null`` in full: totals, plus the files with most matches for one page.

    Only ``offset + limit`` files are kept (a bounded heap), whatever the number of files.
    """

    coalesce = True  # ranks every file

    def __init__(self, offset: int, limit: int, path_filter: PathFilter | None = None) -> None:
        self.offset = offset
        self.limit = limit
        self.path_filter = path_filter
        self.total_files = 0
        self.total_matches = 0
        self.refused = Refused()
        self._parser = _RecordParser()
        self._heap: list[tuple[int, _Reversed, FileHit]] = []

    @property
    def satisfied(self) -> bool:
        return False

    @property
    def stop(self) -> bool:
        return False

    def feed(self, chunk: bytes) -> None:
        keep = self.offset + self.limit
        for hit in self._parser.feed(chunk):
            if self.path_filter is not None and not self.path_filter(hit.path):
                self.refused.add(hit.path)
                continue
            self.total_files += 1
            self.total_matches += hit.count
            # Heap of the best ``keep`` by (count desc, path asc); the root is the worst kept.
            entry = (hit.count, _Reversed(sort_key(hit.path)), hit)
            if len(self._heap) < keep:
                heapq.heappush(self._heap, entry)
            elif entry[:2] > self._heap[0][:2]:
                heapq.heapreplace(self._heap, entry)

    def page(self) -> list[FileHit]:
        ranked = sorted(self._heap, key=lambda e: (-e[0], sort_key(e[2].path)))
        return [e[2] for e in ranked[self.offset : self.offset + self.limit]]


@dataclass(frozen=True, slots=True)
class _Reversed:
    """Orders path keys backwards, so a min-heap on (count, _Reversed(path)) evicts the
    lowest count and, among equal counts, the path that sorts last."""

    key: bytes

    def __lt__(self, other: _Reversed) -> bool:
        return self.key > other.key

    def __gt__(self, other: _Reversed) -> bool:
        return self.key < other.key


__all__ = [
    "ContentPage",
    "CountTally",
    "FileHit",
    "FilesPage",
    "Line",
    "Oversize",
    "PageMatch",
    "PathFilter",
    "Refused",
    "UnorderedBuffer",
    "file_spans",
]
