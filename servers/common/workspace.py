"""The workspace: the directories a server may touch, and the one place paths are checked.

Every path a tool receives goes through :meth:`Workspace.resolve`. The check is done on the
*real* path (symlinks resolved), so a symlink inside a root that points outside it is refused
just like ``../../etc/passwd``. A path that does not exist yet (a file about to be created) is
checked through its nearest existing parent, so creating ``root/link-to-etc/new`` is refused too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAX_PATH_BYTES = 4096
"""Longest path accepted (Linux PATH_MAX); longer ones fail in the kernel with a vaguer error."""

MAX_NAME_BYTES = 255
"""Longest single path component accepted (NAME_MAX on common file systems)."""


class WorkspaceError(ValueError):
    """A path was refused. The message is written for the model: it says why and what is allowed."""


@dataclass(frozen=True, slots=True)
class Workspace:
    """The allowed roots, stored as absolute real paths (first one is the default directory)."""

    roots: tuple[Path, ...]

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]] = ()) -> Workspace:
        """Build from ``--root`` values; no values means the current directory."""
        given = [Path(p) for p in paths] or [Path.cwd()]
        roots: list[Path] = []
        for raw in given:
            root = Path(os.path.realpath(raw.expanduser()))
            if not root.is_dir():
                raise WorkspaceError(f"workspace root {str(raw)!r} is not a directory")
            if root not in roots:
                roots.append(root)
        return cls(tuple(roots))

    @property
    def root(self) -> Path:
        """The first root: relative paths and default working directories start here."""
        return self.roots[0]

    def describe_roots(self) -> str:
        return ", ".join(str(r) for r in self.roots)

    def root_of(self, real_path: Path) -> Path | None:
        """The first root holding an already-resolved path (or equal to it), else None."""
        # A prefix test on the parts tuples: Path.is_relative_to builds new path objects for
        # every root and call, and this runs several times for each file a tool touches. Both
        # sides are real paths, spelled the way the OS resolved them, so comparing parts
        # exactly is the same test.
        parts = real_path.parts
        return next((r for r in self.roots if parts[: len(r.parts)] == r.parts), None)

    def contains(self, real_path: Path) -> bool:
        """True when an already-resolved path lies in (or is) one of the roots."""
        return self.root_of(real_path) is not None

    def resolve(self, path: str | os.PathLike[str], *, must_exist: bool = False) -> Path:
        """Return the real absolute path for ``path``, or raise :class:`WorkspaceError`.

        Relative paths are taken against the first root and ``~`` is expanded. The result has
        every symlink resolved, so callers may open it without re-checking.
        """
        text = os.fspath(path)
        if "\x00" in text:
            raise WorkspaceError(f"path {text!r} contains a NUL byte")
        if not text.strip():
            raise WorkspaceError("path is empty; pass a file or directory inside the workspace")
        try:
            encoded = os.fsencode(text)
        except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from a JSON "\ud800" escape
            raise WorkspaceError(
                f"path {text!r} is not a valid file name (it cannot be encoded: {exc.reason})"
            ) from exc
        if len(encoded) > MAX_PATH_BYTES:
            raise WorkspaceError(
                f"path is {len(encoded)} bytes long; the limit is {MAX_PATH_BYTES} bytes"
            )
        given = Path(text)
        long_parts = [p for p in given.parts if len(os.fsencode(p)) > MAX_NAME_BYTES]
        if long_parts:
            raise WorkspaceError(
                f"path component {long_parts[0][:40]!r}... is longer than {MAX_NAME_BYTES} bytes"
            )

        candidate = given.expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        real = self._realpath(candidate)
        if not self.contains(real):
            shown = str(path)
            via = "" if str(real) == os.path.normpath(candidate) else f" (resolves to {real})"
            raise WorkspaceError(
                f"path {shown!r}{via} is outside the workspace; "
                f"allowed roots: {self.describe_roots()}"
            )
        if must_exist and not real.exists():
            raise WorkspaceError(f"{self.display(real)!r} does not exist")
        return real

    def display(self, real_path: Path) -> str:
        """A short name for messages: relative to the root that holds it, else absolute."""
        root = self.root_of(real_path)
        if root is None or (root != self.root and real_path != root):
            return str(real_path)
        return "/".join(real_path.parts[len(root.parts) :]) or "."

    @staticmethod
    def _realpath(candidate: Path) -> Path:
        """Resolve symlinks; a missing tail is resolved through its nearest existing parent.

        ``os.path.realpath`` already walks as far as the file system allows and then appends the
        rest literally, which is exactly "checked through the nearest existing parent". Symlink
        loops raise with ``strict=True`` only, so we detect them ourselves and refuse them.
        """
        try:
            return Path(os.path.realpath(candidate, strict=True))
        except FileNotFoundError:
            pass
        except OSError as exc:  # ELOOP and friends
            raise WorkspaceError(f"cannot resolve {str(candidate)!r}: {exc.strerror}") from exc
        real = Path(os.path.realpath(candidate))
        # Non-strict realpath leaves a component it could not follow (a loop, or a link whose
        # target is missing) in place. Refuse rather than guess where a write would land.
        for part in (real, *real.parents):
            if part.is_symlink():
                raise WorkspaceError(
                    f"cannot resolve {str(candidate)!r}: {str(part)!r} is a dangling or looping "
                    "symlink"
                )
        return real
