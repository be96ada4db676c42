"""Write a set of file changes all at once or not at all, even across a crash.

A redo journal makes a multi-file change atomic without copying any original:

1. **Prepare.** A journal naming every target and the temp file that will replace it is written
   to the journal directory (itself atomically: temp file + rename).
2. **Stage.** Missing parent directories are created; each new content is written to its temp
   file, beside its target (same directory, so the final rename cannot cross file systems).
   Every target is checked against the state it had when the patch was planned, so a file
   edited meanwhile is not overwritten.
3. **Commit point.** The journal is marked ``staged``: from here on the change is decided.
4. **Swap.** Temp files are renamed over their targets; deleted files are unlinked.
5. The journal is removed.

A failure before the commit point removes the temp files and the new directories: no target was
touched. A failure inside the swap (rare: everything that can fail for an ordinary reason, such
as a full disk or a permission, happened while staging) puts back the files already swapped from
the bytes the plan read. A process killed at any point leaves every target whole, old or new
bytes and never a mix, because a target only ever changes by a rename; :func:`recover` then
finishes the job from the journal: an unstaged change is discarded, a staged one is completed.

``durable`` adds the fsyncs (temp files, their directories, the journal) that make the same hold
across power loss; without it a killed process is covered but a crashed kernel is not. Temp names
follow ``servers.common.atomic`` (``.toolwire-*.tmp``), but are chosen here rather than by
``mkstemp`` because the journal must name them before they exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from servers.common.atomic import TEMP_PREFIX, TEMP_SUFFIX
from servers.patch.model import PatchError

JOURNAL_VERSION = 2
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class FileStamp:
    """Identity and version of a file as planned; compared again just before writing."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStamp:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def as_list(self) -> list[int]:
        return [self.device, self.inode, self.size, self.mtime_ns]

    @classmethod
    def at(cls, path: Path | str) -> FileStamp | None:
        try:
            return cls.of(os.lstat(path))
        except (FileNotFoundError, NotADirectoryError):
            return None


@dataclass(frozen=True, slots=True)
class Write:
    """The final state of one path: new ``data``, or deleted when ``data`` is None."""

    target: Path
    data: bytes | None
    expect: FileStamp | None
    """The file as planned, or None when it must not exist yet."""
    mode: int | None = None
    """Exact permission bits to set; None gives a new file ``create_mode`` minus the umask."""
    create_mode: int = 0o666
    original: bytes | None = None
    """The bytes the plan read, to put back if the swap fails after this file was replaced."""
    original_mode: int | None = None


@dataclass(slots=True)
class _Entry:
    target: str
    temp: str | None
    expect: list[int] | None

    def stamp(self) -> FileStamp | None:
        return FileStamp(*self.expect) if self.expect is not None else None


@dataclass(slots=True)
class _Journal:
    token: str
    pid: int
    started: str | None
    entries: list[_Entry]
    new_dirs: list[str]
    state: str = "prepared"
    version: int = JOURNAL_VERSION
    path: Path = field(default=Path(), repr=False)

    def save(self, durable: bool) -> None:
        payload = {
            "version": self.version,
            "token": self.token,
            "pid": self.pid,
            "started": self.started,
            "state": self.state,
            "new_dirs": self.new_dirs,
            "entries": [[e.target, e.temp, e.expect] for e in self.entries],
        }
        tmp = self.path.with_name(self.path.name + TEMP_SUFFIX)
        tmp.write_bytes(json.dumps(payload).encode())
        if durable:
            _fsync(tmp)
        tmp.replace(self.path)
        if durable:
            _fsync(self.path.parent)

    def paths(self) -> list[Path]:
        """Every path recovery may touch."""
        named = [e.target for e in self.entries] + [e.temp for e in self.entries if e.temp]
        return [Path(p) for p in [*named, *self.new_dirs]]

    @classmethod
    def load(cls, path: Path) -> _Journal:
        raw = json.loads(path.read_bytes())
        if raw.get("version") != JOURNAL_VERSION:
            raise ValueError(f"unknown journal version {raw.get('version')!r}")
        entries = [_Entry(*e) for e in raw.pop("entries")]
        return cls(entries=entries, path=path, **raw)


def commit(
    writes: Sequence[Write],
    new_dirs: Sequence[Path],
    *,
    journal_dir: Path,
    durable: bool = False,
) -> None:
    """Apply ``writes`` (creating ``new_dirs`` first, parents before children) atomically."""
    if not writes:
        return
    token = secrets.token_hex(8)
    journal_dir.mkdir(parents=True, exist_ok=True)
    entries = [
        _Entry(
            target=str(w.target),
            temp=f"{w.target.parent}/{TEMP_PREFIX}patch-{token}-{n}{TEMP_SUFFIX}"
            if w.data is not None
            else None,
            expect=w.expect.as_list() if w.expect is not None else None,
        )
        for n, w in enumerate(writes)
    ]
    journal = _Journal(
        token=token,
        pid=os.getpid(),
        started=_process_start(os.getpid()),
        entries=entries,
        new_dirs=[str(d) for d in new_dirs],
        path=journal_dir / f"{os.getpid()}-{token}.json",
    )
    with _ACTIVE_LOCK:
        _ACTIVE.add(token)
    try:
        journal.save(durable)
        try:
            _stage(writes, journal, durable)
            journal.state = "staged"
            journal.save(durable)
        except BaseException:
            _discard(journal)
            journal.path.unlink(missing_ok=True)
            raise
        swapped = 0
        try:
            # os.replace/os.unlink on strings: this loop runs once per file of the patch, and
            # pathlib's argument parsing would cost more than some of the system calls.
            for entry in entries:
                if entry.temp is None:
                    os.unlink(entry.target)  # noqa: PTH108
                else:
                    os.replace(entry.temp, entry.target)  # noqa: PTH105
                swapped += 1
        except BaseException:
            _restore(writes[:swapped])
            _discard(journal)
            journal.path.unlink(missing_ok=True)
            raise
        if durable:
            for directory in {w.target.parent for w in writes}:
                _fsync(directory)
        journal.path.unlink()
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(token)


def _stage(writes: Sequence[Write], journal: _Journal, durable: bool) -> None:
    """Everything that can fail: directories, temp files, and the freshness check."""
    for new_dir in journal.new_dirs:
        with contextlib.suppress(FileExistsError):
            Path(new_dir).mkdir()
    for write, entry in zip(writes, journal.entries, strict=True):
        if entry.temp is not None:
            _write_temp(entry.temp, write, durable)
    if durable:
        for directory in {w.target.parent for w in writes}:
            _fsync(directory)
    for write in writes:
        if FileStamp.at(write.target) != write.expect:
            raise PatchError(
                f"{write.target} changed on disk while the patch was being applied; "
                "read it again and send a new patch"
            )


def _write_temp(temp: str, write: Write, durable: bool) -> None:
    assert write.data is not None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temp, flags, write.create_mode if write.mode is None else 0o600)
    try:
        if write.mode is not None:
            os.fchmod(fd, write.mode)
        view = memoryview(write.data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def _discard(journal: _Journal) -> None:
    """Undo an unstaged change: remove its temp files and the directories it created."""
    for entry in journal.entries:
        if entry.temp is not None:
            Path(entry.temp).unlink(missing_ok=True)
    for directory in reversed(journal.new_dirs):
        with contextlib.suppress(OSError):
            Path(directory).rmdir()


def _restore(swapped: Sequence[Write]) -> None:
    """Put back files the swap already replaced or deleted, from the bytes the plan read."""
    for write in reversed(swapped):
        if write.expect is None:
            write.target.unlink(missing_ok=True)
        elif write.original is not None:
            temp = f"{write.target.parent}/{TEMP_PREFIX}restore-{secrets.token_hex(8)}{TEMP_SUFFIX}"
            _write_temp(temp, Write(write.target, write.original, None, write.original_mode), True)
            Path(temp).replace(write.target)


def _roll_forward(journal: _Journal) -> None:
    """Finish a staged change. A target that no longer is what the plan read (someone wrote it
    after the crash) is left alone: recovery never overwrites what it did not plan against."""
    for entry in journal.entries:
        target = Path(entry.target)
        expected = entry.stamp()
        if entry.temp is None:
            if expected is not None and FileStamp.at(target) == expected:
                target.unlink()
            continue
        temp = Path(entry.temp)
        if not temp.exists():
            continue  # swapped before the crash
        if FileStamp.at(target) == expected:
            temp.replace(target)
        else:
            temp.unlink()


def recover(journal_dir: Path, within: Callable[[Path], bool] | None = None) -> list[str]:
    """Finish every change whose process died mid-commit: discard the unstaged, complete the
    staged. Journals of live processes are left alone, and so are journals naming a path for
    which ``within`` is false (another workspace's server will finish those). Returns what was
    done."""
    done: list[str] = []
    try:
        paths = sorted(journal_dir.iterdir())
    except FileNotFoundError:
        return done
    for path in paths:
        pid_text = path.name.split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        if path.name.endswith(TEMP_SUFFIX):
            if not _owner_alive(int(pid_text), None):
                path.unlink(missing_ok=True)  # died while writing the journal: nothing staged
            continue
        try:
            journal = _Journal.load(path)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        with _ACTIVE_LOCK:
            if journal.token in _ACTIVE:
                continue
        if journal.pid != os.getpid() and _owner_alive(journal.pid, journal.started):
            continue
        if within is not None and not all(map(within, journal.paths())):
            continue
        if journal.state == "staged":
            _roll_forward(journal)
            done.append(f"completed interrupted patch {journal.token}")
        else:
            _discard(journal)
            done.append(f"discarded interrupted patch {journal.token}")
        path.unlink(missing_ok=True)
    return done


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _owner_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or _process_start(pid) in (None, started)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
