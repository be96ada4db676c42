"""Running commands as sessions: started, read, written to, waited for, and always cleaned up.

A session is one command with its process tree, an output reader and an exit waiter. Its
background tasks live in the manager's task group, not in the tool call that started it, which
is what lets a command outlive ``exec_command`` and be continued with ``write_stdin``.

Clean-up rules, all enforced here:

- Every command leads its own session and process group (see :mod:`servers.common.process`), and
  is registered with an :class:`~servers.common.process.OrphanGuard` so that it dies even when
  the server is SIGKILLed.
- When the command exits, what it left behind (``cmd &`` jobs) is terminated too, as the
  sandbox's PID namespace would do anyway: a command's processes never outlive it. A long-lived
  server is run in the foreground instead, as a session.
- ``timeout`` kills the tree (SIGTERM, a grace period, then SIGKILL) and is reported as such.
- Sessions nobody has touched for ``idle_timeout`` seconds are killed and forgotten.
- At most ``max_sessions`` exist at once; finished ones are dropped first to make room.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import anyio
from anyio.abc import Process, TaskGroup

from schemas.shell import SandboxMode
from servers.common.process import (
    OrphanGuard,
    open_group,
    open_pty_process,
    terminate_tree,
    widen_pipe,
)
from servers.common.trees import signal_group, signal_members, tree_members
from servers.shell.output import SessionOutput

logger = logging.getLogger(__name__)

READ_SIZE = 1 << 20
DRAIN_TIMEOUT = 0.5
SWEEP_INTERVAL = 0.2
"""After the command exits, how long to wait for output still in flight (its pipe is closed
by then unless a straggler holds it)."""

Termination = Literal["timed_out", "killed", "expired"]


class SessionError(Exception):
    """A request about sessions that cannot be done; the message says why, for the model."""


class StdinClosedError(SessionError):
    pass


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to start one command."""

    command: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    tty: bool
    new_session: bool
    """False when ``argv`` itself makes the process a session leader (``setsid --ctty``)."""
    sandbox: SandboxMode
    timeout: float | None
    max_output_bytes: int


class Session:
    """One running (or finished, not yet reported) command."""

    def __init__(
        self, session_id: int, launch: Launch, proc: Process, read_fd: int, write_fd: int
    ) -> None:
        self.id = session_id
        self.launch = launch
        self.proc = proc
        self.pid = proc.pid
        self.output = SessionOutput(launch.max_output_bytes)
        self.started = time.monotonic()
        self.last_used = self.started
        self.ended_at: float | None = None
        self.termination: Termination | None = None
        self.exited = anyio.Event()
        self.drained = anyio.Event()
        self.finished = anyio.Event()
        self.read_fd = read_fd
        self._write_fd: int | None = write_fd
        self._write_lock = anyio.Lock()

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.exited.is_set() else None

    @property
    def exit_code(self) -> int | None:
        code = self.returncode
        return code if code is not None and code >= 0 else None

    @property
    def signal_name(self) -> str | None:
        code = self.returncode
        if code is None or code >= 0:
            return None
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"

    def elapsed(self) -> float:
        end = self.ended_at if self.ended_at is not None else time.monotonic()
        return end - self.started

    def touch(self) -> None:
        self.last_used = time.monotonic()

    async def write(self, data: bytes, within: float) -> int:
        """Write ``data`` to the command's stdin; return how many bytes it accepted in time."""
        async with self._write_lock:
            if self._write_fd is None or self.exited.is_set():
                raise StdinClosedError(f"session {self.id} has ended; its input is closed")
            fd = self._write_fd
            written = 0
            with anyio.move_on_after(within):
                while written < len(data):
                    try:
                        written += os.write(fd, data[written:])
                    except BlockingIOError:
                        await anyio.wait_writable(fd)
                    except OSError as exc:  # EPIPE, or EIO from a terminal whose reader left
                        if written:
                            break
                        raise StdinClosedError(
                            f"session {self.id} no longer reads its input "
                            f"({errno.errorcode.get(exc.errno or 0, exc)})"
                        ) from exc
            return written

    async def close_input(self) -> None:
        async with self._write_lock:
            if self._write_fd is not None:
                os.close(self._write_fd)
                self._write_fd = None


class SessionManager:
    """All sessions of one server. Use as an async context manager (the server's lifespan)."""

    def __init__(
        self,
        *,
        max_sessions: int = 64,
        idle_timeout: float = 3600.0,
        kill_grace: float = 2.0,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.kill_grace = kill_grace
        self.drain_timeout = drain_timeout
        self._sessions: dict[int, Session] = {}
        self._next_id = 1
        self._guard = OrphanGuard()
        self._tg: TaskGroup | None = None
        self._leftovers: dict[int, float] = {}  # leader pid -> when its command exited
        self._sweep_needed = anyio.Event()

    async def __aenter__(self) -> SessionManager:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        try:
            await self._guard.start()
        except OSError:  # still safe against normal exits; only SIGKILL of the server is exposed
            logger.warning("could not start the orphan watchdog", exc_info=True)
        tg.start_soon(self._janitor)
        tg.start_soon(self._sweeper)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        with anyio.CancelScope(shield=True):
            await self.shutdown()
        self._tg.cancel_scope.cancel()
        result = await self._tg.__aexit__(exc_type, exc, tb)
        self._tg = None
        return result

    async def shutdown(self) -> None:
        """Kill every running session (concurrently) and stop the watchdog."""
        async with anyio.create_task_group() as tg:
            for session in list(self._sessions.values()):
                if session.running:
                    tg.start_soon(self.kill, session, "killed")
        self._sessions.clear()
        await self._guard.aclose()

    # --- lookup -----------------------------------------------------------------------------

    def sessions(self) -> list[Session]:
        return sorted(self._sessions.values(), key=lambda s: s.id)

    def get(self, session_id: int) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            known = ", ".join(str(i) for i in sorted(self._sessions)) or "none"
            hint = (
                "it has ended and its result was already returned, or it never existed"
                if session_id < self._next_id
                else "no such session was ever started"
            )
            raise SessionError(f"no session {session_id} ({hint}); current sessions: {known}")
        session.touch()
        return session

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    # --- starting ---------------------------------------------------------------------------

    def _make_room(self) -> None:
        if len(self._sessions) < self.max_sessions:
            return
        for session in sorted(self._sessions.values(), key=lambda s: s.last_used):
            if not session.running:
                self.remove(session)
                if len(self._sessions) < self.max_sessions:
                    return
        raise SessionError(
            f"{len(self._sessions)} sessions are running, the limit is {self.max_sessions}; "
            "stop one with kill_session (list_sessions shows them) or wait for one to finish"
        )

    async def start(self, launch: Launch) -> Session:
        """Start ``launch`` and register it; raises ``SessionError`` when at the limit and
        ``OSError`` when the program cannot be started."""
        if self._tg is None:
            raise RuntimeError("SessionManager used outside its async context")
        self._make_room()
        if launch.tty:
            proc, master = await open_pty_process(
                launch.argv, cwd=launch.cwd, env=launch.env, new_session=launch.new_session
            )
            read_fd, write_fd = master, os.dup(master)
        else:
            proc, read_fd, write_fd = await _open_piped(launch)
        self._guard.add(proc.pid)
        session = Session(self._next_id, launch, proc, read_fd, write_fd)
        self._next_id += 1
        self._sessions[session.id] = session
        self._tg.start_soon(self._read, session)
        self._tg.start_soon(self._wait_exit, session)
        if launch.timeout is not None:
            self._tg.start_soon(self._enforce_timeout, session, launch.timeout)
        return session

    # --- background tasks -------------------------------------------------------------------

    async def _read(self, session: Session) -> None:
        fd = session.read_fd
        try:
            while True:
                await anyio.wait_readable(fd)
                for _ in range(16):  # drain what is there, then let other tasks run
                    try:
                        data = os.read(fd, READ_SIZE)
                    except BlockingIOError:
                        break
                    except OSError:  # EIO: every writer of the terminal is gone
                        return
                    if not data:
                        return
                    session.output.feed(data)
        finally:
            os.close(fd)
            session.drained.set()

    async def _wait_exit(self, session: Session) -> None:
        await session.proc.wait()
        session.ended_at = time.monotonic()
        session.exited.set()
        if not session.drained.is_set():
            if session.termination is None:
                # Background jobs it left may hold the output pipe open: ask them to go now
                # (one syscall; the thorough clean-up below also walks the session).
                signal_group(session.pid, signal.SIGTERM)
            with anyio.move_on_after(self.drain_timeout):
                await session.drained.wait()
        session.finished.set()
        await session.close_input()
        self._leftovers[session.pid] = time.monotonic()
        self._sweep_needed.set()

    async def _sweeper(self) -> None:
        """Stop what finished commands left behind in their session (jobs that changed process
        group, like ``timeout``'s child): SIGTERM at once, SIGKILL after the grace period.

        Finding them means reading all of /proc, so it is done for every recently finished
        command in one pass, at most every ``SWEEP_INTERVAL`` seconds, in a worker thread;
        doing it per command would cost each command a scan and the GIL hand-offs with it.
        """
        while True:
            await self._sweep_needed.wait()
            self._sweep_needed = anyio.Event()
            while self._leftovers:
                await anyio.sleep(SWEEP_INTERVAL)
                pending = dict(self._leftovers)
                found = await anyio.to_thread.run_sync(tree_members, pending)
                now = time.monotonic()
                for leader, exited_at in pending.items():
                    sig = signal.SIGKILL if now - exited_at >= self.kill_grace else signal.SIGTERM
                    if not signal_members(leader, found, sig):
                        del self._leftovers[leader]
                        self._guard.discard(leader)

    async def _enforce_timeout(self, session: Session, limit: float) -> None:
        with anyio.move_on_after(limit) as scope:
            await session.exited.wait()
        if scope.cancelled_caught and not session.exited.is_set():
            await self.kill(session, "timed_out")

    async def _janitor(self) -> None:
        interval = max(0.05, min(60.0, self.idle_timeout / 4))
        while True:
            await anyio.sleep(interval)
            now = time.monotonic()
            for session in list(self._sessions.values()):
                if now - session.last_used > self.idle_timeout:
                    logger.info(
                        "session %d idle for %.0f s: expiring", session.id, self.idle_timeout
                    )
                    self.remove(session)
                    if session.running and self._tg is not None:
                        self._tg.start_soon(self.kill, session, "expired")

    # --- operations -------------------------------------------------------------------------

    async def kill(self, session: Session, reason: Termination) -> None:
        """Stop the session's whole tree and wait until it is finished. Shielded; idempotent."""
        with anyio.CancelScope(shield=True):
            if not session.exited.is_set():
                if session.termination is None:
                    session.termination = reason
                await terminate_tree(session.proc, self.kill_grace)
            await session.finished.wait()

    async def wait(
        self,
        session: Session,
        seconds: float,
        on_progress: Callable[[str], Awaitable[None]] | None = None,
        interval: float = 0.25,
    ) -> None:
        """Return when the session has finished or ``seconds`` have passed, calling
        ``on_progress`` with the latest output line whenever it changes (at most every
        ``interval`` seconds)."""
        with anyio.move_on_after(seconds):
            if on_progress is None:
                await session.finished.wait()
                return
            async with anyio.create_task_group() as tg:

                async def report() -> None:
                    shown = ""
                    while True:
                        await anyio.sleep(interval)
                        line = session.output.latest_line()
                        if line and line != shown:
                            shown = line
                            await on_progress(line)

                tg.start_soon(report)
                await session.finished.wait()
                tg.cancel_scope.cancel()


async def _open_piped(launch: Launch) -> tuple[Process, int, int]:
    """Start with stdin from one pipe and stdout+stderr into another (one pipe keeps the two
    streams in the order they were written). Returns the process and our ends of the pipes."""
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    widen_pipe(out_read)
    try:
        proc = await open_group(
            launch.argv,
            cwd=launch.cwd,
            env=launch.env,
            stdin=in_read,
            stdout=out_write,
            stderr=out_write,
        )
    except BaseException:
        os.close(out_read)
        os.close(in_write)
        raise
    finally:
        os.close(in_read)
        os.close(out_write)
    os.set_blocking(out_read, False)
    os.set_blocking(in_write, False)
    return proc, out_read, in_write
