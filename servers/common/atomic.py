"""Atomic file replacement: readers see the old bytes or the new bytes, never a mix.

The new content goes to a temporary file in the same directory (so the rename cannot cross file
systems), is flushed to disk, and is then renamed over the target. A process killed at any point
leaves either the untouched original or the complete new file, plus at worst a stray temp file
whose name starts with ``.toolwire-`` (:func:`is_temp_name` recognizes them).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".toolwire-"
TEMP_SUFFIX = ".tmp"


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def write_temp_beside(path: Path, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to a durable temp file next to ``path`` and return its path.

    Separate from the rename so that a multi-file change can stage every file first and rename
    them only once all are staged.
    """
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            Path(tmp).chmod(mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (creating parent directories as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_temp_beside(path, data, mode)
    try:
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
