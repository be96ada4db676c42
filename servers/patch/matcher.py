"""Find where a hunk's old lines are in a file: forward-only, strictest comparison first.

Four passes, each over every candidate position before the next is tried:

1. exact;
2. ignoring trailing whitespace;
3. ignoring leading and trailing whitespace;
4. also folding Unicode punctuation to ASCII (dashes U+2010-2015 and U+2212 to ``-``, curly
   quotes U+2018-201F to ``'`` and ``"``, non-breaking and other odd spaces to a space) and
   treating an undecodable byte like U+FFFD, which is how the files server shows it.

A model copies lines from what it read, and what it read can differ from the bytes on disk in
exactly these ways; anything looser risks editing the wrong place. "Forward-only" means a hunk is
searched for after the end of the previous one, so hunks apply in file order and never overlap.
Normalised views of the file are built once per pass and shared by every hunk, which keeps a
200-hunk patch on a 20,000-line file linear.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum


class MatchPass(IntEnum):
    EXACT = 1
    TRAILING_WHITESPACE = 2
    SURROUNDING_WHITESPACE = 3
    UNICODE = 4

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    MatchPass.EXACT: "exactly",
    MatchPass.TRAILING_WHITESPACE: "ignoring trailing whitespace",
    MatchPass.SURROUNDING_WHITESPACE: "ignoring leading and trailing whitespace",
    MatchPass.UNICODE: "ignoring whitespace and Unicode punctuation (dashes, quotes, spaces)",
}

_FOLD: dict[int, str] = {}
_FOLD.update(dict.fromkeys([*range(0x2010, 0x2016), 0x2212], "-"))
_FOLD.update(dict.fromkeys(range(0x2018, 0x201C), "'"))
_FOLD.update(dict.fromkeys(range(0x201C, 0x2020), '"'))
_FOLD.update(dict.fromkeys([0xA0, *range(0x2002, 0x200B), 0x202F, 0x205F, 0x3000], " "))
_FOLD.update(dict.fromkeys(range(0xDC80, 0xDD00), "\ufffd"))  # surrogate-escaped bytes
_FOLD_TABLE = str.maketrans(_FOLD)


def fold(line: str) -> str:
    """The pass-4 form of a line."""
    return line.strip().translate(_FOLD_TABLE)


_NORMALIZERS: dict[MatchPass, Callable[[str], str]] = {
    MatchPass.TRAILING_WHITESPACE: str.rstrip,
    MatchPass.SURROUNDING_WHITESPACE: str.strip,
    MatchPass.UNICODE: fold,
}


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    match_pass: MatchPass


class LineIndex:
    """A file's lines plus their normalised forms, computed on first use of each pass."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        self._views: dict[MatchPass, list[str]] = {MatchPass.EXACT: self.lines}

    def view(self, match_pass: MatchPass) -> list[str]:
        view = self._views.get(match_pass)
        if view is None:
            view = self._views[match_pass] = list(map(_NORMALIZERS[match_pass], self.lines))
        return view


def normalize(lines: Sequence[str], match_pass: MatchPass) -> list[str]:
    if match_pass is MatchPass.EXACT:
        return list(lines)
    return list(map(_NORMALIZERS[match_pass], lines))


def seek(
    index: LineIndex,
    pattern: Sequence[str],
    start: int,
    *,
    at_end: bool = False,
    hint: int | None = None,
) -> Match | None:
    """Where ``pattern`` occurs at or after ``start``, by the strictest pass that finds it.

    ``at_end`` only accepts a match whose last line is the file's last line. ``hint`` (a
    unified diff's line number) makes the nearest occurrence win instead of the first one.
    """
    size = len(pattern)
    last = len(index.lines) - size
    if size == 0 or last < start:
        return None
    for match_pass in MatchPass:
        view = index.view(match_pass)
        wanted = normalize(pattern, match_pass)
        if at_end:
            found: int | None = last if view[last:] == wanted else None
        elif hint is None:
            found = _first(view, wanted, start, last)
        else:
            found = _nearest(view, wanted, start, last, min(max(hint, start), last))
        if found is not None:
            return Match(found, match_pass)
    return None


def _first(view: list[str], wanted: list[str], start: int, last: int) -> int | None:
    head, size = wanted[0], len(wanted)
    i = start
    while i <= last:
        try:
            i = view.index(head, i, last + 1)  # a C-speed scan for the first line
        except ValueError:
            return None
        if view[i : i + size] == wanted:
            return i
        i += 1
    return None


def _nearest(view: list[str], wanted: list[str], start: int, last: int, hint: int) -> int | None:
    size = len(wanted)
    after = _first(view, wanted, hint, last)
    if after == hint:
        return hint
    floor = start if after is None else max(start, hint - (after - hint))
    for i in range(hint - 1, floor - 1, -1):
        if view[i] == wanted[0] and view[i : i + size] == wanted:
            return i
    return after


@dataclass(frozen=True, slots=True)
class Region:
    """The part of a file most like a pattern: ``start`` (0-based), ``length`` lines, and how
    many of the pattern's lines it has (after folding)."""

    start: int
    length: int
    same: int


def closest_region(lines: Sequence[str], pattern: Sequence[str], start: int = 0) -> Region | None:
    """The window of ``len(pattern)`` lines sharing the most lines with ``pattern`` (compared
    folded, line by line at the same offset); ties go to the window nearest ``start``.

    When no line matches even folded, the line most similar to the pattern's longest line anchors
    the window instead. Used only to explain a failure, so it may look anywhere in the file.
    """
    if not lines or not pattern:
        return None
    size = min(len(pattern), len(lines))
    folded = [fold(line) for line in lines]
    wanted = [fold(line) for line in pattern]
    positions: defaultdict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(folded):
        positions[text].append(i)
    votes: defaultdict[int, int] = defaultdict(int)
    for offset, text in enumerate(wanted):
        if not text:
            continue  # blank lines are everywhere; they say nothing about the place
        for i in positions.get(text, ()):
            window = i - offset
            if 0 <= window <= len(lines) - size:
                votes[window] += 1
    if votes:
        best = max(votes, key=lambda w: (votes[w], -abs(w - start)))
        return Region(best, size, votes[best])
    probe = max(range(len(wanted)), key=lambda k: len(wanted[k]))
    close = difflib.get_close_matches(wanted[probe], folded, n=1, cutoff=0.5)
    if not close:
        return None
    anchor = folded.index(close[0])
    window = min(max(anchor - probe, 0), len(lines) - size)
    return Region(window, size, 0)
