"""Result model of the patch server (``apply_patch``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PatchedFile(BaseModel):
    status: Literal["A", "M", "D", "R"] = Field(
        description="A added, M modified, D deleted, R moved (renamed, maybe also modified)"
    )
    path: str = Field(description="the file after the patch (the destination of a move)")
    old_path: str | None = Field(default=None, description="where a moved file came from")
    added: int = Field(description="lines added")
    removed: int = Field(description="lines removed")
    note: str | None = None


class ApplyPatchResult(BaseModel):
    applied: bool = Field(description="true when the files were written (false for dry_run)")
    dry_run: bool
    format: Literal["codex", "unified"] = Field(description="how the input was read")
    files: list[PatchedFile]
    diff: str = Field(description="unified diff of the changes, shortened when long")
    diff_truncated: bool
    notes: list[str] = Field(
        default_factory=list, description="hunks that matched only loosely, and similar remarks"
    )
