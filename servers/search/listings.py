"""A cache of ``rg --files`` output for find_files, exact for everything done before a call.

Agents call find_files again and again on a tree that has not changed, and each call runs
``rg --files`` (6-14 ms on the standard library, hundreds of ms on a large monorepo). A cached
listing is the complete stdout of a run that ended on its own, with its stderr and exit code,
keyed by the working directory and the **exact** rg command line: a hit gives the
:class:`~servers.search.fuzzy.FileMatcher` the bytes rg would print for the unchanged tree, so no
glob or ignore rule is re-implemented here. (Fuzzy queries share one listing, the query not
being on rg's command line; each glob is its own entry.)

Whether the tree is unchanged is known from a :class:`~servers.search.watch.TreeWatch` per
workspace root (Linux inotify), and from a stat signature of git's global files, which rg reads
outside the tree. A listing is valid when its root's watch is ready and unbroken, no *hard*
change has happened since its run started (``generation``), the global files look the same,
and every *soft* change since then (a file appeared, went or was replaced) leaves it as it is:
the path is a regular file now exactly when the listing has it. (rg lists regular files only,
and which of them it lists depends on their paths and on the ignore files, which are watched; a
file that exists but is not listed may be ignored or new, and is taken as new.) So saving a
file through a temporary file and a rename, as editors and ``apply_patch`` do, keeps the cache;
creating, deleting or renaming a file that a listing shows, or could show, does not.

A miss snapshots the watch's version before rg starts and keeps rg's output as it streams by
(:class:`Recorder`, up to ``max_entry_bytes``). A run that ended on its own is stored, tagged
with that **pre-run** version, if the watch was ready before rg started: a hard change during
the run makes the listing invalid at once, and a soft one is checked at the next lookup like
any other (the check compares the listing with the path as it is *now*, so it holds whatever
state of the path rg happened to see).

Never cached: ``follow=True`` runs (symlink targets may be anywhere) and paths inside a ``.git``
directory (not watched in full). Not seen, and documented in the README: changes that raise no
inotify event (network file systems changed from other machines: ``--no-listing-cache``), and
a ``core.excludesFile`` other than the three global files. Where inotify is unavailable or a
root cannot be watched (too many directories, inotify limits), nothing is cached under it and
every call runs rg, as before.
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import anyio

from servers.search.rg import READ_CHUNK, RgRun, Sink
from servers.search.watch import MAX_DIRS, State, TreeWatch, supported

logger = logging.getLogger(__name__)

MAX_ENTRY_BYTES = 8 << 20
"""A larger listing is not stored: replaying it would cost a good share of what rg costs."""
MAX_TOTAL_BYTES = 32 << 20
"""All listings together; the least recently used go first. The server's own heap is ~70 MB."""
MAX_ENTRIES = 64
INLINE_REPLAY_BYTES = 256 << 10
"""A hit up to this size is fed to the matcher on the event loop (a few ms at most); a larger
one in a worker thread, so other calls are not held up."""

Key = tuple[Path, tuple[str, ...]]
FileStat = tuple[int, int, int] | None
Signature = tuple[tuple[str | None, str | None], tuple[FileStat, ...]]


class GitGlobals:
    """The global git files rg reads (``~/.gitconfig``, ``$XDG_CONFIG_HOME/git/config`` and
    ``.../git/ignore``, XDG defaulting to ``~/.config``), signed by (mtime_ns, size, inode).

    A ``core.excludesFile`` that points elsewhere is read by rg but not signed here."""

    def __init__(self) -> None:
        self._env: tuple[str | None, str | None] | None = None
        self._paths: tuple[str, ...] = ()

    def signature(self) -> Signature:
        env = (os.environ.get("HOME"), os.environ.get("XDG_CONFIG_HOME"))
        if env != self._env:
            home = Path(env[0]) if env[0] else Path.home()
            xdg = Path(env[1]) if env[1] else home / ".config"
            paths = (home / ".gitconfig", xdg / "git" / "config", xdg / "git" / "ignore")
            self._paths = tuple(str(path) for path in paths)
            self._env = env
        stats: list[FileStat] = []
        for path in self._paths:
            try:
                st = os.stat(path)  # noqa: PTH116 - Path.stat() costs 2 us more, on every lookup
            except OSError:
                stats.append(None)
            else:
                stats.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return env, tuple(stats)


class Listing:
    """One stored run of ``rg --files``: its output, stderr and exit code, and what it was
    valid for (the watch, its generation, how many soft changes it has been checked against,
    the global signature, and the part of the root it lists)."""

    __slots__ = (
        "checked",
        "data",
        "generation",
        "returncode",
        "scope",
        "signature",
        "stderr",
        "watch",
    )

    def __init__(
        self,
        data: bytes,
        stderr: str,
        returncode: int,
        watch: TreeWatch,
        version: tuple[int, int],
        signature: Signature,
        scope: bytes,
    ) -> None:
        self.data = data
        self.stderr = stderr
        self.returncode = returncode
        self.watch = watch
        self.generation, self.checked = version
        self.signature = signature
        self.scope = scope

    @property
    def size(self) -> int:
        return len(self.data) + len(self.stderr)

    def replay(self, sink: Sink) -> None:
        """Feed the output as rg's reader would: in pipe-sized chunks, so the matcher's
        working memory stays what it is for a real run."""
        data = self.data
        for at in range(0, len(data), READ_CHUNK):
            sink.feed(data[at : at + READ_CHUNK])

    def lists_the_same(self, root: bytes, rel: bytes) -> bool:
        """After a soft change at ``rel``: would rg still list that path as this listing does?
        Yes when it is a regular file now and listed, or not one and not listed."""
        if self.scope and not rel.startswith(self.scope):
            return True  # outside the directory this listing covers
        data = self.data
        listed = data.startswith(rel + b"\0") or b"\0" + rel + b"\0" in data
        try:
            regular = stat.S_ISREG(os.lstat(root + b"/" + rel).st_mode)
        except OSError:
            regular = False
        return listed == regular


class Recorder:
    """The sink for a missed run: passes every chunk on to the real sink and keeps a copy,
    up to a limit, for :meth:`ListingCache.store`."""

    def __init__(
        self,
        sink: Sink,
        key: Key,
        watch: TreeWatch,
        signature: Signature,
        scope: bytes,
        limit: int,
    ) -> None:
        self.coalesce = sink.coalesce
        self.key = key
        self.watch = watch
        self.version = watch.version  # before rg starts: any change after it shows
        self.signature = signature
        self.scope = scope
        self.chunks: list[bytes] | None = []
        self._sink = sink
        self._size = 0
        self._limit = limit

    def feed(self, chunk: bytes) -> None:
        self._sink.feed(chunk)
        if self.chunks is not None:
            self._size += len(chunk)
            if self._size > self._limit:
                self.chunks = None  # too large to keep: let it go now
            else:
                self.chunks.append(chunk)

    @property
    def satisfied(self) -> bool:
        return self._sink.satisfied

    @property
    def stop(self) -> bool:
        return self._sink.stop


def _cacheable(target: str) -> bool:
    """A target whose listing can be checked path by path: rg prints its paths as the watch
    names them (no ``./``, ``..`` or doubled slashes), and it is not inside a ``.git``
    directory, which is not watched in full (rg lists one given as the path)."""
    if target == ".":
        return True
    return (
        posixpath.normpath(target) == target
        and not target.startswith(("/", "../"))
        and target != ".."
        and ".git" not in target.split("/")
    )


class ListingCache:
    """Listings by (cwd, rg argv), one :class:`TreeWatch` per root. Used on the event loop
    only; the watches build themselves in threads. See the module docstring."""

    def __init__(
        self,
        *,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        max_entries: int = MAX_ENTRIES,
        max_dirs: int = MAX_DIRS,
        inline_bytes: int = INLINE_REPLAY_BYTES,
    ) -> None:
        self.max_entry_bytes = max_entry_bytes
        self.max_total_bytes = max_total_bytes
        self.max_entries = max_entries
        self.max_dirs = max_dirs
        self.inline_bytes = inline_bytes
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.total_bytes = 0
        self._entries: OrderedDict[Key, Listing] = OrderedDict()
        self._watches: dict[Path, TreeWatch] = {}
        self._unwatchable: dict[Path, str] = {}
        self._globals = GitGlobals()
        self._supported = supported()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(
        self, cwd: Path, argv: Sequence[str], target: str, sink: Sink
    ) -> Listing | Recorder | None:
        """The valid listing for this run; else a :class:`Recorder` wrapping ``sink`` to run
        rg with (its output can be stored); else None (run rg as usual, nothing to store).

        ``target`` is the path rg lists (relative to ``cwd``, ``.`` for all of it). Costs a
        non-blocking read of the root's inotify queue, three stats and a dict lookup.
        """
        if not self._supported or cwd in self._unwatchable or not _cacheable(target):
            return None
        watch = self._ready_watch(cwd)
        if watch is None:
            return None
        key = (cwd, tuple(argv))
        signature = self._globals.signature()
        entry = self._entries.get(key)
        if entry is not None:
            if self._valid(entry, watch, signature):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
            self._remove(key)
        self.misses += 1
        scope = b"" if target == "." else os.fsencode(target) + b"/"
        return Recorder(sink, key, watch, signature, scope, self.max_entry_bytes)

    def store(self, recorder: Recorder, run: RgRun) -> bool:
        """Keep a missed run's output if rg ended on its own and the root's watch is still the
        one that was ready when rg started (changes since then are judged at the next lookup:
        the listing carries the version from before the run)."""
        ended = run.eof and not run.timed_out and not run.stopped_early
        if recorder.chunks is None or not ended or run.returncode not in (0, 1, 2):
            return False
        key, watch = recorder.key, recorder.watch
        if self._watches.get(key[0]) is not watch or watch.state is not State.READY:
            return False
        entry = Listing(
            b"".join(recorder.chunks),
            run.stderr,
            run.returncode,
            watch,
            recorder.version,
            recorder.signature,
            recorder.scope,
        )
        if key in self._entries:
            self._remove(key)
        if entry.size > self.max_entry_bytes:
            return False
        self._entries[key] = entry
        self.total_bytes += entry.size
        while self.total_bytes > self.max_total_bytes or len(self._entries) > self.max_entries:
            self._remove(next(iter(self._entries)))
        self.stores += 1
        return True

    async def replay(self, listing: Listing, sink: Sink) -> None:
        if len(listing.data) <= self.inline_bytes:
            listing.replay(sink)
        else:
            await anyio.to_thread.run_sync(listing.replay, sink)

    def state(self, cwd: Path) -> State | None:
        """The root's watch state, None when there is none (not built yet, or given up)."""
        watch = self._watches.get(cwd)
        return None if watch is None else watch.state

    def unwatchable(self, cwd: Path) -> str | None:
        """Why a root is never cached, if it is not."""
        return self._unwatchable.get(cwd)

    async def settle(self, cwd: Path) -> State | None:
        """Wait until the root's watch build (if one runs) has ended; its state then. For
        tests (under ``anyio.fail_after``): a call never waits for a build."""
        watch = self._watches.get(cwd)
        if watch is not None:
            await anyio.to_thread.run_sync(watch.wait, abandon_on_cancel=True)
        return self.state(cwd)

    def close(self) -> None:
        """Close every watch and forget every listing (the server is shutting down). The cache
        still works afterwards: the next call under a root starts a new watch."""
        for watch in self._watches.values():
            watch.close()
        self._watches.clear()
        self._entries.clear()
        self.total_bytes = 0

    def _ready_watch(self, cwd: Path) -> TreeWatch | None:
        """The root's watch, drained, if it is ready; otherwise start or restart it (in the
        background) or give the root up, and return None."""
        watch = self._watches.get(cwd)
        if watch is None:
            self._start(cwd)
            return None
        watch.drain()
        state = watch.state
        if state is State.READY:
            return watch
        if state is State.BROKEN:
            self._forget(cwd)
            self._start(cwd)
        elif state is State.FAILED:
            self._forget(cwd)
            self._unwatchable[cwd] = watch.failure
            logger.debug("listing cache: not caching under %s: %s", cwd, watch.failure)
        return None

    def _start(self, cwd: Path) -> None:
        watch = TreeWatch(cwd, max_dirs=self.max_dirs)
        self._watches[cwd] = watch
        watch.start()

    def _forget(self, cwd: Path) -> None:
        """Close the root's watch and drop its listings."""
        watch = self._watches.pop(cwd, None)
        if watch is not None:
            watch.close()
        for key in [key for key in self._entries if key[0] == cwd]:
            self._remove(key)

    def _remove(self, key: Key) -> None:
        self.total_bytes -= self._entries.pop(key).size

    def _valid(self, entry: Listing, watch: TreeWatch, signature: Signature) -> bool:
        if (
            entry.watch is not watch
            or entry.generation != watch.generation
            or entry.signature != signature
        ):
            return False
        touched = watch.touched
        if entry.checked < len(touched):
            root = watch.root_bytes
            for rel in touched[entry.checked :]:
                if not entry.lists_the_same(root, rel):
                    return False
            entry.checked = len(touched)
        return True


__all__ = ["GitGlobals", "Listing", "ListingCache", "Recorder"]
