"""The searches themselves: which rg runs to make, in which order, and what came of them.

Paging needs the same result order on every call, and rg gives a stable order only when it
sorts (``--sort=path``), which makes it single-threaded. So a content search first runs rg in
parallel and unordered, keeping up to :data:`UNORDERED_MIN` matches (or ``offset + limit``, if
more): when the whole result fits (the common "where is this defined" case) it is sorted here,
costs what ``rg`` on the command line costs, and the number of further matches is exact. When
it does not fit, that run is killed as soon as it overflows, and rg runs again sorted,
streaming, and is killed as soon as the page is complete. Both paths give the same order.
The parallel run reads rg's plain output when there are no multiline matches (cheaper for rg
to write and here to decode), ``--json`` otherwise.

File listings may come from a :class:`~servers.search.listings.ListingCache` instead of a new
``rg --files`` run, when the tree has not changed since one ended.

Nothing here knows about MCP; :mod:`servers.search.server` turns outcomes into tool results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from servers.search.fuzzy import FileMatcher
from servers.search.listings import Listing, ListingCache, Recorder
from servers.search.paging import (
    ContentPage,
    CountTally,
    FilesPage,
    PathFilter,
    UnorderedBuffer,
    UnorderedLines,
)
from servers.search.rg import (
    Filters,
    Pattern,
    RgRun,
    Sink,
    files_argv,
    grep_argv,
    regex_error,
    run_rg,
)

UNORDERED_MIN = 1000
"""The parallel first attempt keeps up to this many matches (or offset + limit, if more).

A result that fits is sorted here, costs one parallel scan (what ``rg`` on the command line
costs) and its exact size is known. One that does not fit has more than this many matches;
with matches spread evenly, the attempt scanned about ``cap / N`` of the tree and the sorted
run needs ``2 * page / N`` (single-threaded on two cores), so the worst case, just past the cap,
costs ``1 + 2 * page / cap`` parallel scans: 1.2x for a page of 100. A larger cap would give
exact counts for more queries, but queries with a few thousand matches would then scan most of
the tree before the sorted run even starts.
"""
UNORDERED_MAX = 10_000
"""Beyond this ``offset + limit`` the parallel attempt is skipped: it would hold too much."""


class SearchError(Exception):
    """rg refused the search (bad pattern, unknown type, bad glob). The message is rg's."""


class RegexError(SearchError):
    """The pattern is not a valid regular expression."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where rg runs: ``cwd`` is the workspace root holding the target, ``arg`` the target
    relative to it, so rg prints paths relative to the root."""

    cwd: Path
    arg: str
    directory: bool = True
    """False for a single file, which rg searches on one thread, writing its plain output in
    blocks (``--json`` goes out event by event): a search stopped by its deadline returns what
    rg had written."""


@dataclass(slots=True)
class Outcome:
    """How the rg run that produced a page ended."""

    exact: bool  # rg finished: the count of further results is exact
    timed_out: bool
    unordered: bool  # timed out before the order was known: the page is a sample
    warnings: str  # rg's non-fatal complaints (unreadable files, symlink loops)
    seen: int = 0  # results known to exist in total (a lower bound when not exact)


def _check(run: RgRun, produced: bool) -> str:
    """Raise for a search rg refused; return its non-fatal warnings."""
    if run.returncode != 2 or produced:
        return run.stderr
    message = regex_error(run.stderr)
    if message is not None:
        raise RegexError(message)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    per_file = [line for line in lines if "os error" in line or "File system loop" in line]
    if lines and len(per_file) < len(lines):
        raise SearchError(run.stderr.removeprefix("rg: "))
    return run.stderr


async def grep_content(
    rg: str,
    pattern: Pattern,
    filters: Filters,
    target: Target,
    page: ContentPage,
    *,
    deadline: float,
    count_budget: float,
) -> Outcome:
    """Fill ``page`` (which knows offset, limit and context) from one or two rg runs."""
    wanted = page.offset + page.limit
    count_budget_left = count_budget
    seen = 0
    if wanted <= UNORDERED_MAX:
        cap = max(wanted, UNORDERED_MIN)
        plain = target.directory and not pattern.multiline and page.path_filter is None
        if plain:
            unordered: UnorderedBuffer = UnorderedLines(cap, context=page.context)
            argv = grep_argv(rg, pattern, filters, target.arg, "lines", page.context)
        else:
            unordered = UnorderedBuffer(cap)
            argv = grep_argv(rg, pattern, filters, target.arg, "json", page.context)
        run = await run_rg(argv, target.cwd, unordered, deadline=deadline)
        warnings = _check(run, produced=unordered.matches > 0)
        if unordered.overflow:
            # More than the cap exist: counting them all would cost a full scan. Stop the
            # sorted run as soon as its page is complete and report the lower bound known.
            count_budget_left = 0.0
            if page.path_filter is None:
                seen = unordered.matches
        elif unordered.replay(page):
            return Outcome(run.eof, run.timed_out, run.timed_out, warnings)
        # else: plain output this cannot read (a path with a newline): the sorted run reads
        # --json, and counts what follows the page as it would for any search.
    argv = grep_argv(rg, pattern, filters, target.arg, "json-sorted", page.context)
    run = await run_rg(argv, target.cwd, page, deadline=deadline, count_budget=count_budget_left)
    warnings = _check(run, produced=bool(page.matches) or page.skipped > 0)
    return Outcome(run.eof, run.timed_out, False, warnings, seen)


async def grep_files(
    rg: str,
    pattern: Pattern,
    filters: Filters,
    target: Target,
    page: FilesPage,
    *,
    deadline: float,
    count_budget: float,
) -> Outcome:
    """Files with matches, newest first (rg sorts by modification time, single-threaded)."""
    argv = grep_argv(rg, pattern, filters, target.arg, "files")
    run = await run_rg(argv, target.cwd, page, deadline=deadline, count_budget=count_budget)
    warnings = _check(run, produced=bool(page.files) or page.seen > 0)
    return Outcome(run.eof, run.timed_out, False, warnings)


async def grep_count(
    rg: str,
    pattern: Pattern,
    filters: Filters,
    target: Target,
    tally: CountTally,
    *,
    deadline: float,
) -> Outcome:
    """Matching lines per file over the whole tree (parallel; ordered here by count)."""
    argv = grep_argv(rg, pattern, filters, target.arg, "count")
    run = await run_rg(argv, target.cwd, tally, deadline=deadline)
    warnings = _check(run, produced=tally.total_files > 0)
    return Outcome(run.eof, run.timed_out, False, warnings)


async def find_files(
    rg: str,
    filters: Filters,
    target: Target,
    matcher: FileMatcher,
    *,
    deadline: float,
    cache: ListingCache | None = None,
) -> Outcome:
    """List files with ``rg --files`` (ignore rules apply) and rank or filter them.

    With a ``cache``, a listing of the same command line on the unchanged tree is fed to the
    matcher instead of running rg (rg's stderr and exit code are replayed with it), and a run
    that ends on its own may be kept for the next call. ``follow`` runs are never cached: the
    targets of symlinks are outside what the cache watches.
    """
    if matcher.glob:
        filters = Filters(
            globs=(*filters.globs, matcher.pattern),
            type=filters.type,
            hidden=filters.hidden,
            no_ignore=filters.no_ignore,
            follow=filters.follow,
        )
    argv = files_argv(rg, filters, target.arg)
    sink: Sink = matcher
    recorder: Recorder | None = None
    if cache is not None and not filters.follow:
        found = cache.lookup(target.cwd, argv, target.arg, matcher)
        if isinstance(found, Listing):
            await cache.replay(found, matcher)
            replayed = RgRun(eof=True, returncode=found.returncode, stderr=found.stderr)
            return Outcome(True, False, False, _check(replayed, produced=matcher.total > 0))
        if found is not None:
            sink = recorder = found
    run = await run_rg(argv, target.cwd, sink, deadline=deadline)
    if cache is not None and recorder is not None:
        cache.store(recorder, run)
    warnings = _check(run, produced=matcher.total > 0)
    return Outcome(run.eof, run.timed_out, False, warnings)


def path_filter_for(cwd: Path, contains: Callable[[Path], bool]) -> PathFilter:
    """For ``--follow`` runs: a path rg printed (relative to ``cwd``) is shown only if its real
    path, every symlink resolved, is inside the roots. Without ``--follow`` rg never descends
    through a symlink, and the search path itself was resolved already, so no check is needed.
    """

    def allowed(raw: bytes) -> bool:
        return contains(Path(os.path.realpath(cwd / os.fsdecode(raw))))

    return allowed
