"""The process the crash test kills: commits one multi-file change, reporting when it starts.

``python -m tests.patch.crash_child ROOT JOURNAL`` expects ROOT to hold :func:`old_tree`; it
prints ``ready`` just before the commit begins and ``done <seconds>`` after it ends.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from servers.patch.apply import FileStamp, Write, commit

FILE_BYTES = 192 * 1024


def old_tree() -> dict[str, bytes]:
    tree = {f"mod/{n:02}.txt": f"old {n}\n".encode() * (FILE_BYTES // 8) for n in range(16)}
    tree.update({f"del/{n}.txt": f"doomed {n}\n".encode() * 1000 for n in range(3)})
    return tree


def new_tree() -> dict[str, bytes]:
    tree = {f"mod/{n:02}.txt": f"NEW {n}!\n".encode() * (FILE_BYTES // 8) for n in range(16)}
    tree.update({f"add/sub{n}/{n}.txt": f"added {n}\n".encode() * 1000 for n in range(5)})
    return tree


def planned_writes(root: Path) -> tuple[list[Write], list[Path]]:
    old, new = old_tree(), new_tree()
    writes = []
    for name in sorted(old.keys() | new.keys()):
        target = root / name
        stamp = FileStamp.of(os.lstat(target)) if name in old else None
        writes.append(Write(target, new.get(name), stamp))
    new_dirs = [root / "add", *(root / f"add/sub{n}" for n in range(5))]
    return writes, new_dirs


def main() -> None:
    root, journal = Path(sys.argv[1]), Path(sys.argv[2])
    writes, new_dirs = planned_writes(root)
    print("ready", flush=True)
    start = time.perf_counter()
    commit(writes, new_dirs, journal_dir=journal)
    print(f"done {time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    main()
