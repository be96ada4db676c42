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

import re
from itertools import compress

from servers.search.events import path_of_key, sort_key, sort_keys
from servers.search.paging import PathFilter, Refused

GLOB_CHARS = frozenset("*?[]{}")
_BOUNDARY = frozenset("/_-. ")


def is_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)


Score = tuple[int, int, int, int]


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


def fuzzy_score(query: str, path: str) -> Score | None:
    """Lower is better; None when ``path`` does not match. ``query`` must be lower-case."""
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
    found = _best_subsequence(query, name)
    if found is not None:
        return (3, found[0], found[1], len(path))
    at = lowered.find(query)
    if at >= 0:
        return (4, _at_boundary(lowered, at), at, len(path))
    found = _best_subsequence(query, lowered)
    if found is not None:
        return (5, found[0], found[1], len(path))
    return None


class FileMatcher:
    """Consumes ``rg --files --null`` output; keeps the best ``offset + limit`` paths.

    In glob mode rg already filtered the files (``--glob``), so every path counts and the
    order is the path order; in fuzzy mode every path is scored here. Work is done per chunk
    with C-level string operations (split, a compiled regex as prefilter, sort), because a
    per-path Python loop over a 100k-file tree would cost more than rg's whole listing.
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
        self._kept: list[tuple[Score, bytes]] = []  # sorted, at most offset + limit
        self._buffer = b""
        # The in-order test fuzzy_score needs to pass, run on the lower-cased path: each letter
        # is found at its first occurrence after the previous one (the greedy subsequence
        # check), and a possessive negated class never backtracks, so this is linear.
        self._prefilter = re.compile("".join(f"[^{c}]*+{c}" for c in map(re.escape, self.query)))

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
        if complete.startswith(b"./"):  # rg prints ./x when listing "."
            complete = complete[2:].replace(b"\0./", b"\0")
        if self.path_filter is not None:
            complete = self._allowed(complete)
        keep = self.offset + self.limit
        found: list[tuple[Score, bytes]]
        if self.glob:
            keys = sort_keys(complete)
            self.total += len(keys)
            keys.sort()
            found = [(_NO_SCORE, key) for key in keys[:keep]]
        else:
            found = []
            # One decode and one lower() for the chunk: NUL never belongs to a multi-byte
            # sequence and stops case mapping's look at neighbours (Greek final sigma), so
            # both equal doing it path by path.
            text = complete.decode("utf-8", "surrogateescape")
            paths, lowered = text.split("\0"), text.lower().split("\0")
            paths.pop()
            lowered.pop()
            for path in compress(paths, map(self._prefilter.match, lowered)):
                score = fuzzy_score(self.query, path) if self.query else (0, 0, 0, len(path))
                if score is not None:
                    self.total += 1
                    found.append((score, sort_key(path.encode("utf-8", "surrogateescape"))))
            found.sort()
        if found:
            self._kept = sorted(self._kept + found[:keep])[:keep]

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
        return [path_of_key(key) for _, key in self._kept[self.offset :]]


_NO_SCORE: Score = (0, 0, 0, 0)
