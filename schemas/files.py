"""Result models of the files server (``read_file``, ``list_dir``, ``view_image``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ReadFileResult(BaseModel):
    path: str = Field(description="the file, relative to the first workspace root")
    offset: int = Field(description="1-indexed number of the first line returned")
    lines: list[str] = Field(description="the lines, without line endings")
    next_offset: int | None = Field(
        description="offset to pass to read the next lines, or null at end of file"
    )
    encoding: str
    line_endings: Literal["lf", "crlf", "mixed"]
    notes: list[str] = Field(default_factory=list)


class DirEntry(BaseModel):
    path: str = Field(description="relative to the listed directory")
    type: Literal["file", "dir", "symlink"]
    depth: int


class ListDirResult(BaseModel):
    path: str
    entries: list[DirEntry]
    offset: int
    total: int = Field(description="entries found (before paging)")
    next_offset: int | None
    ignored: int = Field(description="entries hidden by .gitignore or version-control dirs")
    beyond_depth: int = Field(description="entries inside directories deeper than depth")


class ViewImageResult(BaseModel):
    path: str
    mime_type: str
    size_bytes: int
