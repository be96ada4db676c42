"""Fixtures for the patch tests: a workspace in a temp dir and a private journal directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.patch import ApplyPatchResult
from servers.common.workspace import Workspace
from servers.patch.engine import run_patch


class PatchRunner:
    """Apply patches to one temp workspace, journaling into a private directory."""

    def __init__(self, root: Path, journal: Path) -> None:
        self.root = root
        self.journal = journal
        self.workspace = Workspace.from_paths([root])

    def __call__(self, text: str, *, dry_run: bool = False) -> ApplyPatchResult:
        return run_patch(text, self.workspace, dry_run=dry_run, journal_dir=self.journal)

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def snapshot(self) -> dict[str, bytes | None]:
        return tree(self.root)


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root``: files as bytes, directories (empty ones too) as None."""
    return {
        p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def patcher(tmp_path: Path) -> PatchRunner:
    root = tmp_path / "ws"
    root.mkdir()
    return PatchRunner(root, tmp_path / "journal")


def codex(*lines: str) -> str:
    """A Codex-format patch from its body lines."""
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"
