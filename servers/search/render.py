"""What the model reads: grep-style lines, file lists, and the exact call for the next page.

The text is rendered from the structured content itself (the schema models, and a grep page's
matches as the JSON objects that go into it), so the two can never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from schemas.search import FindFilesResult, GrepResult, Paging
from servers.search.events import show
from servers.search.paging import PageMatch, Refused

DisplayAll = Callable[[list[bytes]], list[str]]
"""Turns paths as rg printed them into the paths shown to the model."""


MatchItem = dict[str, Any]
"""One match as its JSON object in the structured result: exactly what ``GrepMatch`` dumps
(``before``/``after`` only when there are context lines)."""


def match_items(matches: list[PageMatch], display_all: DisplayAll) -> list[MatchItem]:
    """A page's matches as their JSON objects, built directly rather than validated into
    ``GrepMatch`` models and dumped back (a third of the cost; a test holds the two equal).

    The paths are decoded in one pass.
    """
    shown = display_all([match.path for match in matches])
    items: list[MatchItem] = []
    for match, path in zip(matches, shown, strict=True):
        item: MatchItem = {
            "path": path,
            "line": match.line or 0,
            "column": match.column or 0,
            "text": match.text,
        }
        if match.before:
            item["before"] = [{"line": c.number, "text": c.text} for c in match.before]
        if match.after:
            item["after"] = [{"line": c.number, "text": c.text} for c in match.after]
        items.append(item)
    return items


def call_text(tool: str, args: Mapping[str, Any]) -> str:
    """``grep(pattern="foo", offset=100)``: the arguments as JSON values, in a readable call."""
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    return f"{tool}({shown})"


def paging_note(paging: Paging, tool: str, unit: str) -> str | None:
    if paging.next_call is None:
        return None
    if paging.more is not None:
        count = f"{paging.more:,} more {unit}"
    elif paging.more_at_least:
        count = f"at least {paging.more_at_least:,} more {unit} (not all counted)"
    else:
        count = f"more {unit}"
    return f"{count}; next page: {call_text(tool, paging.next_call)}"


def refused_note(refused: Refused) -> str | None:
    if not refused.count:
        return None
    examples = ", ".join(show(p) for p in refused.examples)
    return (
        f"{refused.count} file(s) reached through symlinks that lead outside the workspace were "
        f"left out (e.g. {examples})"
    )


def warnings_note(stderr: str, limit: int = 3) -> str | None:
    lines = [line.removeprefix("rg: ") for line in stderr.splitlines() if line.strip()]
    if not lines:
        return None
    extra = f" (+{len(lines) - limit} more)" if len(lines) > limit else ""
    return "rg reported: " + "; ".join(lines[:limit]) + extra


def render_grep(result: GrepResult, matches: list[MatchItem]) -> str:
    """grep's text: ``path:line:text`` for matches, ``path-line-text`` for context lines,
    ``--`` between groups that are not adjacent; then the notes and how to continue.

    ``matches`` are the page's matches as :func:`match_items` gives them (``result`` holds
    none: they go into the structured result as they are)."""
    if result.output_mode == "content":
        body = _render_content(matches)
        unit = "matches"
    else:
        width = max((len(f"{f.count:,}") for f in result.files), default=1)
        body = [f"{f.count:>{width},} {f.path}" for f in result.files]
        unit = "files"
        if result.output_mode == "count" and result.total_matches is not None:
            body.insert(
                0,
                f"{result.total_matches:,} matching lines in {result.total_files:,} files",
            )
    if not matches and not result.files:
        body = [f"No matches for {json.dumps(result.pattern)} in {result.path}."]
    trailer = list(result.notes)
    note = paging_note(result.paging, "grep", unit)
    if note:
        trailer.append(note)
    return "\n".join(body) + ("\n\n" + "\n".join(f"[{t}]" for t in trailer) if trailer else "")


def _render_content(matches: list[MatchItem]) -> list[str]:
    out: list[str] = []
    separate = any("before" in m or "after" in m for m in matches)  # rg prints "--" only then
    last: tuple[str, int] | None = None
    for match in matches:
        path, line, text = match["path"], match["line"], match["text"]
        before: list[dict[str, Any]] = match.get("before", [])
        after: list[dict[str, Any]] = match.get("after", [])
        if separate:
            first = before[0]["line"] if before else line
            if last is not None and (last[0] != path or first > last[1] + 1):
                out.append("--")
            last = (path, after[-1]["line"] if after else line + text.count("\n"))
        if before:
            out.extend(f"{path}-{c['line']}-{c['text']}" for c in before)
        if "\n" in text:
            out.extend(
                f"{path}:{line + index if line else '?'}:{piece}"
                for index, piece in enumerate(text.split("\n"))
            )
        else:
            out.append(f"{path}:{line if line else '?'}:{text}")
        if after:
            out.extend(f"{path}-{c['line']}-{c['text']}" for c in after)
    return out


def render_find(result: FindFilesResult) -> str:
    body = list(result.files)
    if not body:
        how = "matching the glob" if result.match == "glob" else "fuzzy-matching"
        body = [f"No files {how} {json.dumps(result.pattern)} in {result.path}."]
    trailer = list(result.notes)
    note = paging_note(result.paging, "find_files", "files")
    if note:
        trailer.append(note)
    return "\n".join(body) + ("\n\n" + "\n".join(f"[{t}]" for t in trailer) if trailer else "")
