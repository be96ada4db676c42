"""Result models of the search server (``grep``, ``find_files``).

Paging is the same everywhere: ``offset`` results were skipped, ``results`` follow, and
``next_offset`` says where the next page starts (null when nothing follows). ``more`` is the exact
number of results after this page when it could be counted cheaply, and null otherwise;
``has_more`` is always known.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

OutputMode = Literal["content", "files", "count"]
CaseMode = Literal["smart", "sensitive", "insensitive"]


class ContextLine(BaseModel):
    line: int = Field(description="1-indexed line number")
    text: str


def _empty(value: list[ContextLine]) -> bool:
    return not value


# Clients validate every result against the output schema (the MCP SDK's client does, with
# jsonschema, ~30 us per match object), so a match has no nullable fields (0 means unknown) and
# leaves out empty context lists: that halves the validation cost of a 100-match page. They are
# left out with ``exclude_if``, which pydantic-core checks per field: a model serializer
# wrapping every match cost three times as much to dump a page.
class GrepMatch(BaseModel):
    """One match; ``before``/``after`` are present only when there are context lines."""

    path: str = Field(description="the file, relative to the first workspace root")
    line: int = Field(description="1-indexed number of the (first) matching line; 0 if unknown")
    column: int = Field(
        description="1-indexed character column where the first match starts; 0 if unknown"
    )
    text: str = Field(description="the matching line(s); long lines are cut around the match")
    before: list[ContextLine] = Field(
        default_factory=list,
        exclude_if=_empty,
        description="context lines before (only with context > 0)",
    )
    after: list[ContextLine] = Field(
        default_factory=list,
        exclude_if=_empty,
        description="context lines after (only with context > 0)",
    )


class FileCount(BaseModel):
    path: str
    count: int = Field(description="matching lines in this file")


class Paging(BaseModel):
    offset: int = Field(description="results skipped before this page")
    limit: int
    next_offset: int | None = Field(
        description="offset of the next page, or null when this page is the last"
    )
    has_more: bool
    more: int | None = Field(
        description="exact number of results after this page, or null if not counted"
    )
    more_at_least: int | None = Field(
        default=None,
        description="when ``more`` is null: how many further results were seen before stopping",
    )
    next_call: dict[str, Any] | None = Field(
        default=None, description="the arguments that fetch the next page"
    )


class GrepResult(BaseModel):
    pattern: str
    path: str = Field(description="the directory or file searched")
    output_mode: OutputMode
    matches: list[GrepMatch] = Field(
        default_factory=list, description="output_mode=content: the page of matches"
    )
    files: list[FileCount] = Field(
        default_factory=list,
        description="output_mode=files (newest first) or count (most matches first)",
    )
    total_matches: int | None = Field(
        default=None, description="output_mode=count: matching lines in all files"
    )
    total_files: int | None = Field(
        default=None, description="output_mode=count: files with at least one match"
    )
    paging: Paging
    timed_out: bool = False
    notes: list[str] = Field(default_factory=list)


class FindFilesResult(BaseModel):
    pattern: str
    path: str
    match: Literal["glob", "fuzzy"] = Field(
        description="glob when the pattern has glob characters, else fuzzy (best first)"
    )
    files: list[str]
    total: int | None = Field(description="files that matched, or null if the listing timed out")
    paging: Paging
    timed_out: bool = False
    notes: list[str] = Field(default_factory=list)
