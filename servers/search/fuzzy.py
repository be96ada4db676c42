"""Which files a ``find_files`` pattern names: a glob, or a fuzzy query ranked by quality.

A fuzzy query matches a path when its characters appear in it in order, ignoring case. Ranking
puts what a person means first: the file *named* like the query (``server`` finds
``server.py`` before ``servers/registry.py``), then names starting with it, containing it, or
containing its letters in order; then the same tests against the whole path. Within a tier,
tighter matches, matches at word starts and shorter paths win, and the path breaks ties so
pages are stable.

Only ``offset + limit`` candidates are kept (a bounded heap) however many files the tree has.
"""

from __future__ import annotations

import heapq
import re
import sys
from collections.abc import Iterable
from itertools import compress

from servers.search.events import path_of_key, sort_key, sort_keys
from servers.search.paging import PathFilter, Refused

GLOB_CHARS = frozenset("*?[]{}")
_BOUNDARY = frozenset("/_-. ")


def is_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)


Score = tuple[int, int, int, int]
_NO_PAGE: Score = (5, sys.maxsize, sys.maxsize, sys.maxsize)
"""Worse than any score: what a ranking compares with before its page is full."""


def _subsequence(query: str, text: str, start: int) -> tuple[int, int] | None:
    """Greedy in-order match of ``query`` in ``text`` from ``start``: (gaps, span) or None."""
    pos = start
    gaps = 0
    previous = -1
    first = -1
    for char in query:
        found = text.find(char, pos)
        if found == -1:
            return None
        if previous != -1 and found != previous + 1:
            gaps += 1
        if first == -1:
            first = found
        previous = found
        pos = found + 1
    return gaps, previous - first + 1


def _best_subsequence(query: str, text: str) -> tuple[int, int] | None:
    """The tightest greedy match over every place the first character occurs."""
    best: tuple[int, int] | None = None
    start = text.find(query[0])
    tries = 0
    while start != -1 and tries < 16:
        found = _subsequence(query, text, start)
        if found is None:
            break  # a later start cannot succeed if this one did not
        if best is None or found < best:
            best = found
        start = text.find(query[0], start + 1)
        tries += 1
    return best


def _at_boundary(text: str, index: int) -> int:
    """0 when ``index`` starts a word (start of text or after / _ - . space), else 1."""
    return 0 if index == 0 or text[index - 1] in _BOUNDARY else 1


def fuzzy_score(query: str, path: str, worst_tier: int = 5) -> Score | None:
    """Lower is better; None when ``path`` does not match. ``query`` must be lower-case.

    With ``worst_tier`` the tiers after it are not tried: None then also means "would rank
    after that tier". A ranking that already holds a full page of better paths passes the
    tier of its worst one, so a path that cannot make the page costs a few string tests
    instead of the subsequence searches of the last tiers.
    """
    lowered = path.lower()
    cut = lowered.rfind("/") + 1
    name = lowered[cut:]
    stem = name.split(".", 1)[0]
    if name == query or stem == query:
        return (0, 0, 0, len(path))
    at = name.find(query)
    if at == 0:
        return (1, 0, 0, len(path))
    if at > 0:
        return (2, _at_boundary(name, at), at, len(path))
    if worst_tier < 3:
        return None
    found = _best_subsequence(query, name)
    if found is not None:
        return (3, found[0], found[1], len(path))
    if worst_tier < 4:
        return None
    at = lowered.find(query)
    if at >= 0:
        return (4, _at_boundary(lowered, at), at, len(path))
    if worst_tier < 5:
        return None
    found = _best_subsequence(query, lowered)
    if found is not None:
        return (5, found[0], found[1], len(path))
    return None


def in_order(query: str, *, across: bool = False) -> re.Pattern[str]:
    """A regex for "``query``'s characters appear in this order" (the greedy subsequence test
    of :func:`fuzzy_score`), to run on lower-cased text.

    Each character is found at its first occurrence after the previous one, and a possessive
    negated class never backtracks, so a test is linear. For one path the pattern is
    ``match``-ed at its start; with ``across`` it is ``search``-ed in many NUL-terminated paths
    at once: it starts at the query's first character and never runs past a path's NUL.
    """
    chars = [re.escape(c) for c in query]
    if not across:
        return re.compile("".join(f"[^{c}]*+{c}" for c in chars))
    # (\x00, not \0: followed by a digit, \0 would read as a longer octal escape)
    return re.compile("".join(chars[:1]) + "".join(f"[^\\x00{c}]*+{c}" for c in chars[1:]))


def scan_records(scan: re.Pattern[str], text: str, lowered: str) -> list[str]:
    """The NUL-terminated paths of ``text`` in which ``scan`` (``in_order(..., across=True)``)
    finds a match in ``lowered``, ``text`` lower-cased character for character."""
    found: list[str] = []
    position = 0
    while (match := scan.search(lowered, position)) is not None:
        start = lowered.rfind("\0", 0, match.start()) + 1
        end = lowered.index("\0", match.end())
        found.append(text[start:end])
        position = end + 1
    return found


class FileMatcher:
    """Consumes ``rg --files --null`` output; keeps the best ``offset + limit`` paths.

    In glob mode rg already filtered the files (``--glob``), so every path counts and the
    order is the path order; in fuzzy mode every path that holds the query's letters in order
    is scored here. Work is done per chunk with C-level string operations (translate, split,
    a compiled regex as prefilter, sort), because a per-path Python loop over a 100k-file tree
    would cost more than rg's whole listing.
    """

    # rg --files writes 8 KiB blocks: there are few reads to save, and ranking one block while
    # rg lists the next overlaps the two.
    coalesce = False

    def __init__(
        self, pattern: str, offset: int, limit: int, path_filter: PathFilter | None = None
    ) -> None:
        self.pattern = pattern
        self.glob = is_glob(pattern)
        self.query = "".join(pattern.lower().split())
        self.offset = offset
        self.limit = limit
        self.path_filter = path_filter
        self.total = 0
        self.refused = Refused()
        self._first: list[bytes] = []  # glob mode: sort keys, sorted, at most offset + limit
        self._ranked: list[tuple[Score, bytes]] = []  # fuzzy mode: the same, best first
        self._buffer = b""
        self._prefilter = in_order(self.query)
        scannable = bool(self.query) and "\0" not in self.query  # (no path holds a NUL)
        self._scan = in_order(self.query, across=True) if scannable else None

    @property
    def satisfied(self) -> bool:
        return False

    @property
    def stop(self) -> bool:
        return False

    def feed(self, chunk: bytes) -> None:
        data = self._buffer + chunk
        cut = data.rfind(b"\0") + 1
        complete, self._buffer = data[:cut], data[cut:]
        if not complete:
            return
        if complete.startswith(b"./"):  # rg prints ./x when it is given "." to list
            complete = complete[2:].replace(b"\0./", b"\0")
        if self.path_filter is not None:
            complete = self._allowed(complete)
        if self.glob:
            self._keep_first(complete)
        else:
            self._keep_best(complete)

    def _keep_first(self, complete: bytes) -> None:
        """Glob mode: every path counts; keep the first ``offset + limit`` in path order.

        Plain byte strings, not (score, key) pairs: sorting and merging them compares bytes
        in C, where tuples cost a Python-level comparison of their first items each time.
        """
        keep = self.offset + self.limit
        keys = sort_keys(complete)
        self.total += len(keys)
        if len(self._first) >= keep:
            # Only a key before the last one kept can still make the page (keys are unique).
            last = self._first[-1]
            keys = [key for key in keys if key < last]
            if not keys:
                return
        if len(keys) > keep:
            keys = heapq.nsmallest(keep, keys)  # sorted, without sorting the rest
        else:
            keys.sort()
        # Both runs are sorted: sorted() merges them in one linear pass.
        self._first = sorted(self._first + keys)[:keep] if self._first else keys

    def _keep_best(self, complete: bytes) -> None:
        """Fuzzy mode: score the paths the prefilter lets through; keep the best ranked.

        Every path the prefilter lets through matches (its test is the one fuzzy_score's
        last tier makes), so all of them count; only those that can still make the page are
        scored in full.
        """
        keep = self.offset + self.limit
        # The worst score on a full page: a path scoring worse cannot make it (one scoring
        # the same still may, by its path).
        worst = self._ranked[-1][0] if len(self._ranked) >= keep else _NO_PAGE
        found: list[tuple[Score, bytes]] = []
        # One decode and one lower() for the chunk: NUL never belongs to a multi-byte
        # sequence and stops case mapping's look at neighbours (Greek final sigma), so
        # both equal doing it path by path.
        text = complete.decode("utf-8", "surrogateescape")
        for path in self._candidates(text, text.lower()):
            self.total += 1
            score = fuzzy_score(self.query, path, worst[0]) if self.query else (0, 0, 0, len(path))
            if score is not None and score <= worst:
                found.append((score, sort_key(path.encode("utf-8", "surrogateescape"))))
        if found:
            found.sort()
            self._ranked = sorted(self._ranked + found[:keep])[:keep]

    def _candidates(self, text: str, lowered: str) -> Iterable[str]:
        """The paths in ``text`` (NUL-terminated) whose lower-cased form holds the query's
        characters in order: the test fuzzy_score needs to pass.

        Two ways to the same answer. Testing path by path costs about 0.1 µs each whatever
        the query. Scanning the whole chunk jumps from one occurrence of the query's first
        character to the next at C speed and tests only from there, so it wins when that
        character is rarer than paths are (``httpclient`` in the standard library: a sixth of
        the cost) and loses when it is common (``test``: three times the cost). Counting it
        first costs a fiftieth of either. The scan returns slices of ``text`` found at
        offsets in ``lowered``, so it needs lower() to have kept every character one
        character long (it does, unless a path holds a letter such as "İ").
        """
        if (
            self._scan is not None
            and len(lowered) == len(text)
            and lowered.count(self.query[0]) < text.count("\0")
        ):
            return scan_records(self._scan, text, lowered)
        paths, lowered_paths = text.split("\0"), lowered.split("\0")
        paths.pop()
        lowered_paths.pop()
        return compress(paths, map(self._prefilter.match, lowered_paths))

    def _allowed(self, complete: bytes) -> bytes:
        """The records whose path may be shown; the others are counted as refused."""
        assert self.path_filter is not None
        parts = complete.split(b"\0")
        parts.pop()
        allowed = [p for p in parts if self.path_filter(p)]
        for refused in set(parts).difference(allowed):
            self.refused.add(refused)
        return b"".join(p + b"\0" for p in allowed)

    def page(self) -> list[bytes]:
        keys = self._first if self.glob else [key for _, key in self._ranked]
        return [path_of_key(key) for key in keys[self.offset :]]
