"""Directory listings that respect .gitignore, depth-limited and paged.

``rg --files`` would answer "which files", but a listing also needs directories, their depth
and what was hidden; walking with ``os.scandir`` and ``pathspec`` keeps that in one small
function with no child process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # relative to the listed directory, POSIX separators
    is_dir: bool
    depth: int
    is_symlink: bool = False


@dataclass(slots=True)
class Listing:
    entries: list[Entry]
    ignored: int = 0
    beyond_depth: int = 0
    unreadable: list[str] = field(default_factory=list)


class _IgnoreRules:
    """The .gitignore files in force for one directory, deepest last."""

    def __init__(self, specs: tuple[tuple[Path, pathspec.GitIgnoreSpec], ...] = ()) -> None:
        self.specs = specs

    def entering(self, directory: Path) -> _IgnoreRules:
        spec = _load_gitignore(directory)
        return _IgnoreRules((*self.specs, (directory, spec))) if spec else self

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for base, spec in reversed(self.specs):
            rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
            verdict = spec.check_file(rel).include
            if verdict is not None:
                return verdict
        return False


def _load_gitignore(directory: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        text = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines())


def rules_for(directory: Path, root: Path) -> _IgnoreRules:
    """Collect .gitignore files from ``root`` down to ``directory`` (inclusive)."""
    rules = _IgnoreRules()
    chain = [directory, *directory.parents]
    for d in reversed(chain):
        if d == root or d.is_relative_to(root):
            rules = rules.entering(d)
    return rules


def list_tree(directory: Path, root: Path, depth: int, *, include_ignored: bool = False) -> Listing:
    """All entries under ``directory`` down to ``depth`` levels, sorted depth-first by name."""
    listing = Listing(entries=[])
    _walk(directory, directory, rules_for(directory, root), 1, depth, include_ignored, listing)
    return listing


def _walk(
    top: Path,
    directory: Path,
    rules: _IgnoreRules,
    level: int,
    max_depth: int,
    include_ignored: bool,
    out: Listing,
) -> None:
    try:
        with os.scandir(directory) as it:
            children = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        out.unreadable.append(f"{directory.relative_to(top).as_posix() or '.'}: {exc.strerror}")
        return
    for child in children:
        path = Path(child.path)
        is_dir = child.is_dir(follow_symlinks=False)
        if child.name in ALWAYS_SKIPPED and is_dir:
            out.ignored += 1
            continue
        if not include_ignored and rules.ignored(path, is_dir):
            out.ignored += 1
            continue
        rel = path.relative_to(top).as_posix()
        out.entries.append(Entry(rel, is_dir, level, child.is_symlink()))
        if is_dir:
            if level < max_depth:
                _walk(top, path, rules.entering(path), level + 1, max_depth, include_ignored, out)
            else:
                out.beyond_depth += _count_children(path, rules.entering(path), include_ignored)


def _count_children(directory: Path, rules: _IgnoreRules, include_ignored: bool) -> int:
    """Entries a deeper listing would show: ignored ones would stay hidden, so are not counted."""
    try:
        with os.scandir(directory) as it:
            return sum(
                1
                for e in it
                if not (e.name in ALWAYS_SKIPPED and e.is_dir(follow_symlinks=False))
                and (
                    include_ignored
                    or not rules.ignored(Path(e.path), e.is_dir(follow_symlinks=False))
                )
            )
    except OSError:
        return 0


def render_listing(entries: list[Entry], header: str, trailer: list[str]) -> str:
    lines = [header]
    for e in entries:
        name = e.path.rsplit("/", 1)[-1]
        suffix = "/" if e.is_dir else ("@" if e.is_symlink else "")
        lines.append(f"{'  ' * (e.depth - 1)}{name}{suffix}")
    lines.extend(f"[{t}]" for t in trailer)
    return "\n".join(lines)
