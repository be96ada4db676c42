"""Child processes that never outlive their purpose.

Every child starts in a new session (its own process group), so one ``killpg`` reaches it and
everything it spawned. :func:`terminate_group` sends SIGTERM, waits a grace period, then SIGKILL;
it is safe to call on a process that has already exited, and it shields itself from cancellation
so a cancelled tool call still finishes killing what it started.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process


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


def signal_group(pid: int, sig: int) -> bool:
    """Send ``sig`` to the process group led by ``pid``; False if it is already gone."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


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
