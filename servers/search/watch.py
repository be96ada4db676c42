"""Linux inotify over one workspace root: what :mod:`servers.search.listings` needs to know
whether a cached ``rg --files`` listing still equals what rg would print now.

A :class:`TreeWatch` has its own inotify descriptor. It is built in a background thread (a
search never waits for it): a watch on the root, then on every directory below it, each added
*before* the directory is listed, so nothing created during the walk goes unseen. ``.git``
directories are not entered: git rewrites its index and objects all the time, and rg reads only
``info/exclude`` there, so ``.git`` is watched for the names ``info`` and ``config`` and
``.git/info`` for ``exclude``. Every ancestor of the root, up to ``/``, is watched for the ignore
files and repository markers rg reads there. Nothing follows symlinks (rg without ``--follow``
does not either).

Events are read on the event loop, without blocking, when a listing is looked up
(:meth:`TreeWatch.drain`), and sorted into three kinds:

- *broken*: the set of watches may no longer cover the tree (a directory was created, moved in
  or had its permissions changed, the root or an ancestor moved, a repository marker or an
  ignore file appeared, the kernel's queue overflowed). The cache drops the root's listings
  and builds a new watch. (A new build also refuses ignore files that are symlinks or have
  other hard links: they can be edited elsewhere without an event here.)
- *hard*: what rg would list may have changed in a way no listing can check (an ignore file was
  edited or removed, a directory was removed). ``generation`` goes up.
- *soft*: a file (not a directory) appeared, disappeared or was replaced at a path. The path
  joins ``touched``; a listing checks it against its own contents (see
  :meth:`servers.search.listings.ListingCache.lookup`). Editors and toolwire's own
  ``apply_patch`` save through a temporary file renamed over the original, so "a file was
  renamed" is the common case of an edit, and must not throw every listing away.

Writes to ordinary files (``IN_CLOSE_WRITE`` on any other name, ``IN_ATTRIB`` on files) change no
listing and are ignored; ``IN_MODIFY`` is not even asked for (it fires on every ``write``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import stat
import struct
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import NamedTuple

logger = logging.getLogger(__name__)

# <sys/inotify.h>
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_NAMES = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
"""A name appeared in or left a directory."""
_SELF = IN_DELETE_SELF | IN_MOVE_SELF
TREE_MASK = (
    _NAMES | _SELF | IN_ATTRIB | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK
)
"""A directory of the tree. ``IN_ATTRIB`` for directories' permissions and ``IN_CLOSE_WRITE``
for edited ignore files; both fire for ordinary files too and are dropped when read."""
NAMED_MASK = _NAMES | _SELF | IN_CLOSE_WRITE | IN_ONLYDIR | IN_EXCL_UNLINK
"""A directory watched for a few names only (``.git``, ``.git/info``, ancestors). Symlinks are
followed here: rg reads ``.git/info/exclude`` through a ``.git`` that is a symlink."""

IGNORE_FILES = frozenset({b".gitignore", b".ignore", b".rgignore"})
"""Ignore files rg reads in every directory it enters and in every ancestor of it."""
REPO_MARKERS = frozenset({b".git", b".jj"})
"""Their presence makes rg apply .gitignore (rg 15 counts Jujutsu's ``.jj`` too); a ``.git``
file also says where rg finds ``info/exclude``, so watches depend on them."""
GIT_NAMES = frozenset({b"info", b"config"})
INFO_NAMES = frozenset({b"exclude"})
GITLINK_NAMES = frozenset({b"commondir"})

MAX_DIRS = 16_384
"""A tree with more directories is not watched: each watch costs kernel memory and a share of
the user's ``fs.inotify.max_user_watches``, which editors and file watchers need too."""
MAX_TOUCHED = 1024
"""Soft changes kept before they count as one hard change (a build writing thousands of
files): each lookup would otherwise check them all."""
READ_SIZE = 1 << 16

_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name


class Event(NamedTuple):
    wd: int
    mask: int
    cookie: int
    name: bytes  # without its NUL padding; empty for an event on the watched directory itself


def parse_events(data: bytes) -> tuple[list[Event], bytes]:
    """The complete ``struct inotify_event`` records in ``data``, and the bytes after them.

    The kernel never splits a record across reads, but a caller that joins reads can hand the
    tail back on the next call, so a partial record is returned rather than misread.
    """
    events: list[Event] = []
    at, end, size = 0, len(data), _HEADER.size
    while end - at >= size:
        wd, mask, cookie, length = _HEADER.unpack_from(data, at)
        if end - at - size < length:
            break
        name = data[at + size : at + size + length]
        nul = name.find(b"\0")
        events.append(Event(wd, mask, cookie, name if nul < 0 else name[:nul]))
        at += size + length
    return events, data[at:]


class Kind(Enum):
    TREE = "tree"  # a directory of the tree: every name counts
    GIT = "git"  # a .git directory (or a worktree's common git directory): info, config
    INFO = "info"  # .git/info: exclude
    ANCESTOR = "ancestor"  # above the root: ignore files and repository markers
    GITLINK = "gitlink"  # a worktree's own git directory, named by a .git file: commondir


@dataclass(frozen=True, slots=True)
class _Dir:
    kind: Kind
    rel: bytes = b""  # TREE: the path from the root ("" for the root itself)


class State(Enum):
    BUILDING = "building"
    READY = "ready"
    BROKEN = "broken"  # the watches may miss changes: build a new TreeWatch
    FAILED = "failed"  # this root cannot be watched (see ``failure``)
    CLOSED = "closed"


class UnwatchableError(Exception):
    """The root cannot be watched exactly: too many directories, inotify limits, no inotify."""


_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_init1.restype = ctypes.c_int
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_add_watch.restype = ctypes.c_int
        _libc = libc
    return _libc


def supported() -> bool:
    """Linux with inotify in its C library. Elsewhere the cache never stores anything."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return hasattr(_c(), "inotify_add_watch")
    except OSError:
        return False


def _raise_errno(what: bytes | str = "") -> None:
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code), os.fsdecode(what) if what else None)


def inotify_init() -> int:
    """A new non-blocking, close-on-exec inotify descriptor (OSError when there is none)."""
    if not supported():
        raise OSError(errno.ENOSYS, "inotify is not available on this platform")
    fd: int = _c().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        _raise_errno()
    return fd


def add_watch(fd: int, path: bytes, mask: int) -> int:
    wd: int = _c().inotify_add_watch(fd, path, mask)
    if wd < 0:
        _raise_errno(path)
    return wd


_LIMITS = frozenset({errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM})


def _first_line(path: Path) -> str | None:
    """The first line of a small file, as rg's ``BufRead::lines`` gives it, or None."""
    try:
        with path.open("rb") as f:
            line = f.readline(4096)
    except OSError:
        return None
    if not line:
        return None
    return os.fsdecode(line.removesuffix(b"\n").removesuffix(b"\r"))


def _check_rule_file(path: Path) -> None:
    """Refuse an ignore file that can change without an event here: a symlink (its target is
    edited elsewhere) or a file with other hard links (edited through another name)."""
    try:
        st = path.lstat()
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or st.st_nlink > 1:
        raise UnwatchableError(f"{path} is a symlink or has other hard links")


class TreeWatch:
    """The inotify watches over one workspace root; see the module docstring.

    Built by :meth:`start` in a daemon thread, which owns the descriptor until it is done;
    after that only the event loop touches it (:meth:`drain`, :meth:`close`). ``state`` tells
    where it is; ``generation`` and ``touched`` say what changed since it became ready.
    """

    def __init__(self, root: Path, *, max_dirs: int = MAX_DIRS) -> None:
        self.root = root
        self.max_dirs = max_dirs
        self.state = State.BUILDING
        self.failure = ""
        self.generation = 0
        self.touched: list[bytes] = []
        """Paths (relative to the root) where a file appeared, went or was replaced since the
        last hard change, in order; cleared when ``generation`` goes up."""
        self.dirs = 0
        self.root_bytes = os.fsencode(root)
        self._fd = -1
        self._dirs: dict[int, _Dir] = {}
        self._pending = b""
        self._lock = threading.Lock()
        self._closing = False
        self._done = threading.Event()

    @property
    def version(self) -> tuple[int, int]:
        """Changes at least once whenever anything a listing depends on may have changed."""
        return self.generation, len(self.touched)

    def start(self) -> None:
        threading.Thread(target=self._build, name="toolwire-tree-watch", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the build has ended (ready, failed or closed); False on timeout."""
        return self._done.wait(timeout)

    # -- the build (background thread) -------------------------------------------------------

    def _build(self) -> None:
        failure = ""
        try:
            self._fd = inotify_init()
        except OSError as exc:
            failure = f"no inotify descriptor: {exc.strerror or exc}"
        if not failure:
            try:
                self._watch_tree()
                self._watch_ancestors()
            except UnwatchableError as exc:
                failure = str(exc)
            except Exception as exc:  # never let the thread die with the state unknown
                failure = f"unexpected error: {exc!r}"
        with self._lock:
            if failure or self._closing:
                if self._fd >= 0:
                    os.close(self._fd)
                    self._fd = -1
                self.failure = failure
                self.state = State.CLOSED if self._closing else State.FAILED
            else:
                self.state = State.READY
        self._done.set()

    def _add(self, path: bytes, mask: int, record: _Dir, *, required: bool) -> bool:
        """Watch ``path``; False when it cannot be watched and need not be (gone, unreadable,
        no longer a directory). Limits, or a ``required`` directory that cannot be watched,
        make the whole root unwatchable."""
        if self._closing:
            raise UnwatchableError("closed while building")
        try:
            wd = add_watch(self._fd, path, mask)
        except OSError as exc:
            if exc.errno in _LIMITS or required:
                raise UnwatchableError(
                    f"cannot watch {os.fsdecode(path)}: {exc.strerror or exc}"
                ) from exc
            return False
        known = self._dirs.get(wd)
        if known is not None and known != record:
            # One inode reached by two paths (a bind mount): events would name only one.
            raise UnwatchableError(f"{os.fsdecode(path)} is also reachable by another path")
        if known is None and record.kind is not Kind.ANCESTOR:
            self.dirs += 1
            if self.dirs > self.max_dirs:
                raise UnwatchableError(f"more than {self.max_dirs} directories")
        self._dirs[wd] = record
        return True

    def _watch_tree(self) -> None:
        stack: list[tuple[bytes, bytes]] = [(self.root_bytes, b"")]
        while stack:
            path, rel = stack.pop()
            if not self._add(path, TREE_MASK, _Dir(Kind.TREE, rel), required=not rel):
                continue
            try:
                with os.scandir(path) as entries:
                    for entry in entries:
                        name = entry.name
                        if name == b".git":
                            self._watch_git(Path(os.fsdecode(entry.path)))
                            continue
                        if name in IGNORE_FILES:
                            _check_rule_file(Path(os.fsdecode(entry.path)))
                        try:
                            is_dir = entry.is_dir(follow_symlinks=False)
                        except OSError:
                            continue
                        if is_dir:
                            stack.append((entry.path, rel + b"/" + name if rel else name))
            except OSError:
                if not rel:
                    raise UnwatchableError(f"cannot list {os.fsdecode(path)}") from None
                continue  # unreadable: rg cannot list it either; its chmod will be seen

    def _watch_ancestors(self) -> None:
        for parent in self.root.parents:
            self._add(os.fsencode(parent), NAMED_MASK, _Dir(Kind.ANCESTOR), required=True)
            for name in IGNORE_FILES:
                _check_rule_file(parent / os.fsdecode(name))
            self._watch_git(parent / ".git")

    def _watch_git(self, dot_git: Path) -> None:
        """What rg reads through a ``.git`` entry (followed, as rg does): ``info/exclude`` in
        the directory, or in the common git directory a ``.git`` file leads to."""
        try:
            mode = dot_git.stat().st_mode
        except OSError:
            return
        if stat.S_ISDIR(mode):
            self._watch_git_dir(dot_git)
        elif stat.S_ISREG(mode):
            self._watch_gitlink(dot_git)

    def _watch_git_dir(self, git_dir: Path) -> None:
        if self._add(os.fsencode(git_dir), NAMED_MASK, _Dir(Kind.GIT), required=False):
            info = git_dir / "info"
            if info.is_dir():
                self._add(os.fsencode(info), NAMED_MASK, _Dir(Kind.INFO), required=False)
                _check_rule_file(info / "exclude")

    def _watch_gitlink(self, dot_git: Path) -> None:
        """A worktree's ``.git`` file: ``gitdir: X``; ``X/commondir`` names the git directory
        whose ``info/exclude`` applies (resolved as rg resolves it: a relative X against rg's
        working directory, the root)."""
        line = _first_line(dot_git)
        if line is None or not line.startswith("gitdir: "):
            return
        private = self.root / line.removeprefix("gitdir: ")
        if not self._add(os.fsencode(private), NAMED_MASK, _Dir(Kind.GITLINK), required=False):
            return
        common = _first_line(private / "commondir")
        if common:
            # As rg: relative to X when it starts with ".", else as given (from rg's cwd).
            self._watch_git_dir((private if common.startswith(".") else self.root) / common)

    # -- events (event loop) ------------------------------------------------------------------

    def drain(self) -> None:
        """Read every queued event without blocking and apply it (only once ready: events
        that arrive during the build wait in the kernel's queue until then)."""
        if self.state is not State.READY:
            return
        while True:
            try:
                data = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                self._break(f"reading inotify events failed: {exc}")
                return
            events, self._pending = parse_events(self._pending + data)
            self.apply(events)
            if self.state is not State.READY or len(data) < READ_SIZE // 2:
                return  # the queue was emptied by this read (or nothing more matters)

    def apply(self, events: Iterable[Event]) -> None:
        """Sort events into broken, hard and soft changes (see the module docstring)."""
        for wd, mask, _, name in events:
            if mask & (IN_Q_OVERFLOW | IN_UNMOUNT):
                self._break("inotify queue overflow" if mask & IN_Q_OVERFLOW else "unmounted")
                return
            record = self._dirs.get(wd)
            if record is None:
                continue
            if mask & IN_IGNORED:
                del self._dirs[wd]
                continue
            kind = record.kind
            if kind is Kind.TREE:
                self._tree_event(record.rel, wd, mask, name)
            elif not name:  # the watched directory itself was removed or moved
                if kind is Kind.ANCESTOR or kind is Kind.GITLINK:
                    self._break("an ancestor of the root moved")
                else:
                    self._hard()
            elif kind is Kind.ANCESTOR:
                if name in REPO_MARKERS:
                    self._break("a repository marker changed above the root")
                elif name in IGNORE_FILES:
                    self._rule_file(mask)
            elif kind is Kind.GIT:
                if name in GIT_NAMES:
                    if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                        self._break(".git/info appeared")
                    else:
                        self._hard()
            elif kind is Kind.INFO:
                if name in INFO_NAMES:
                    self._rule_file(mask)
            elif name in GITLINK_NAMES:
                self._break("a worktree's commondir changed")
            if self.state is not State.READY:
                return

    def _tree_event(self, rel: bytes, wd: int, mask: int, name: bytes) -> None:
        if not name:  # the directory itself
            if mask & IN_ATTRIB:
                self._break("a directory's permissions changed")
            elif mask & _SELF:
                if not rel:
                    self._break("the root moved or was removed")
                else:
                    # Moved or removed: its parent reports that too. Moved out of the tree,
                    # its later events would name paths that are no longer in it.
                    del self._dirs[wd]
                    self._hard()
            return
        if mask & IN_ISDIR:
            if mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB):
                self._break("a directory appeared or its permissions changed")
            elif mask & (IN_DELETE | IN_MOVED_FROM):
                self._hard()
            return
        if name in REPO_MARKERS:
            if mask & (_NAMES | IN_CLOSE_WRITE | IN_ATTRIB):
                self._break("a repository marker changed")
        elif name in IGNORE_FILES:
            self._rule_file(mask)
        elif mask & _NAMES:
            if len(self.touched) >= MAX_TOUCHED:
                self._hard()
            else:
                self.touched.append(rel + b"/" + name if rel else name)

    def _rule_file(self, mask: int) -> None:
        """An ignore file (or ``info/exclude``) changed. One that arrives is looked at by a
        new build (:meth:`_check_rule_file`); one edited or removed is a hard change."""
        if mask & (IN_CREATE | IN_MOVED_TO):
            self._break("an ignore file appeared")
        elif mask & (_NAMES | IN_CLOSE_WRITE | IN_ATTRIB):
            self._hard()

    def _hard(self) -> None:
        self.generation += 1
        self.touched = []

    def _break(self, why: str) -> None:
        logger.debug("listing cache: watch on %s broken: %s", self.root, why)
        self.state = State.BROKEN
        self.failure = why

    def close(self) -> None:
        """Release the descriptor (the kernel drops every watch with it). During the build the
        thread does it when it sees ``_closing``; closing a descriptor another thread is using
        could let a new file reuse its number under that thread."""
        with self._lock:
            self._closing = True
            if self.state is State.BUILDING:
                return
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self.state = State.CLOSED
            self._dirs.clear()


__all__ = [
    "IGNORE_FILES",
    "MAX_DIRS",
    "REPO_MARKERS",
    "Event",
    "State",
    "TreeWatch",
    "add_watch",
    "inotify_init",
    "parse_events",
    "supported",
]
