"""Child processes that never outlive their purpose.

Every child starts in a new session (its own process group), so one ``killpg`` reaches it and
everything it spawned. :func:`terminate_group` sends SIGTERM, waits a grace period, then SIGKILL;
it is safe to call on a process that has already exited, and it shields itself from cancellation
so a cancelled tool call still finishes killing what it started.

For commands that may leave descendants in other groups (shells, job control), the tree
functions in :mod:`servers.common.trees` find everything in the leader's group *or session*, and
:func:`terminate_tree` uses them. :func:`open_pty_process` runs a child on a pseudo-terminal;
:class:`OrphanGuard` kills registered trees when this process dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

from servers.common.trees import signal_group, signal_tree, tree_alive

__all__ = [
    "OrphanGuard",
    "ctty_prefix",
    "kill_group",
    "open_group",
    "open_pty_process",
    "signal_group",
    "signal_tree",
    "terminate_group",
    "terminate_tree",
    "tree_alive",
    "widen_pipe",
]


WIDE_PIPE_BYTES = 1 << 20
F_SETPIPE_SZ: int = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux; the constant is in Python 3.10+


def widen_pipe(fd: int, size: int = WIDE_PIPE_BYTES) -> None:
    """Give a pipe room for ``size`` bytes (Linux; best effort elsewhere). A child writing
    heavy output then blocks less often, and the reader wakes up less often."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, size)


async def open_group(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    **kwargs: Any,
) -> Process:
    """Start ``argv`` as the leader of a new session (process group)."""
    return await anyio.open_process(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        **kwargs,
    )


async def terminate_group(proc: Process, grace: float = 2.0) -> int | None:
    """SIGTERM the group, SIGKILL it after ``grace`` seconds, reap the leader; return its code.

    The group is signalled even when the leader has exited, because grandchildren may remain.
    """
    with anyio.CancelScope(shield=True):
        signal_group(proc.pid, signal.SIGTERM)
        with anyio.move_on_after(grace):
            await proc.wait()
        signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()
    return proc.returncode


async def kill_group(proc: Process) -> int | None:
    """SIGKILL the whole group at once (for tools whose children need no clean shutdown)."""
    with anyio.CancelScope(shield=True):
        signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()
    return proc.returncode


async def terminate_tree(proc: Process, grace: float = 2.0, poll: float = 0.05) -> int | None:
    """SIGTERM the leader's whole tree, give it ``grace`` seconds to exit, then SIGKILL it.

    Unlike :func:`terminate_group`, the grace period lasts until every member has exited, not
    just the leader, so a grandchild that traps SIGTERM to clean up gets its time too, and one
    that ignores SIGTERM is still killed. Shielded from cancellation; returns the leader's code.
    """
    with anyio.CancelScope(shield=True):
        found = await anyio.to_thread.run_sync(signal_tree, proc.pid, signal.SIGTERM)
        if not found and proc.returncode is not None:
            return proc.returncode  # the usual case after a clean exit: nothing left to stop
        with anyio.move_on_after(grace):
            await proc.wait()
            # Grandchildren send no event when they exit: polling is the only way to know.
            while await anyio.to_thread.run_sync(tree_alive, proc.pid):  # noqa: ASYNC110
                await anyio.sleep(poll)
        await anyio.to_thread.run_sync(signal_tree, proc.pid, signal.SIGKILL)
        await proc.wait()
    return proc.returncode


# --- Pseudo-terminals ----------------------------------------------------------------------------


def ctty_prefix() -> list[str]:
    """Argv prefix that makes the command a session leader owning its terminal as controlling
    terminal (so ^C written to the pty reaches it as SIGINT), or ``[]`` without util-linux.

    ``setsid --ctty`` is used instead of a ``preexec_fn`` because running Python code between
    fork and exec is unsafe in a threaded server and forces the slow fork path. The process must
    not already lead a group when it runs (``setsid`` would fork, and the pid we track would
    exit), so start it with ``start_new_session=False``.
    """
    setsid = shutil.which("setsid")
    return [setsid, "--ctty"] if setsid else []


async def open_pty_process(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    new_session: bool,
    rows: int = 40,
    cols: int = 120,
) -> tuple[Process, int]:
    """Start ``argv`` with a new pseudo-terminal as stdin, stdout and stderr.

    Returns the process and the terminal's master side (non-blocking, owned by the caller, who
    must close it). Pass ``new_session=False`` when ``argv`` starts with :func:`ctty_prefix`.
    """
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        proc = await anyio.open_process(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=new_session,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    return proc, master


# --- No orphans, even when this process is SIGKILLed --------------------------------------------

_IMPORT_ROOT = Path(__file__).resolve().parents[2]


class OrphanGuard:
    """A small watchdog process that kills registered process trees once this process is gone.

    Cleanup code never runs when a server is SIGKILLed, and ``PR_SET_PDEATHSIG`` reaches only a
    direct child, not what it spawned. The watchdog holds the read end of a pipe whose write end
    only this process has; the kernel closes it however this process dies, the watchdog reads
    EOF, and it terminates every tree still registered (SIGTERM, a second of grace, SIGKILL).
    """

    def __init__(self) -> None:
        self._proc: Process | None = None
        self._fd: int | None = None

    async def start(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self._proc = await anyio.open_process(
                [sys.executable, "-m", "servers.common.trees"],
                cwd=_IMPORT_ROOT,
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # ^C in a terminal must not reach it before the server
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        self._fd = write_fd

    def _send(self, line: str) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # the watchdog is gone: nothing left to tell
            os.write(self._fd, line.encode())  # a few bytes into a drained pipe: never blocks

    def add(self, leader: int) -> None:
        self._send(f"+{leader}\n")

    def discard(self, leader: int) -> None:
        self._send(f"-{leader}\n")

    async def aclose(self) -> None:
        """Stop the watchdog (it kills whatever is still registered, normally nothing)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._proc is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._proc.wait()
            self._proc = None
