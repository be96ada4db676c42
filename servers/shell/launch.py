"""Turning a command line into the argv that runs it: which shell, and with what profile.

The issue asks for the user's shell as a login shell (``bash -lc``), so that PATH additions from
``~/.profile`` (pyenv, cargo, nvm, ...) apply. Sourcing the profile on every command can be
expensive, though: on a typical developer machine ``bash -lc true`` takes 50-150 ms against
about 1 ms for ``bash -c true``. The default ``snapshot`` mode therefore runs the login shell
once, captures the environment it produces, and runs each command with ``bash -c`` in that
environment, which is what Codex's shell snapshots do too. ``always`` sources the profile every
time (for profiles that define functions the commands need); ``never`` skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import anyio

from servers.common.process import kill_group, open_group

LoginShell = Literal["snapshot", "always", "never"]

SNAPSHOT_TIMEOUT = 10.0
SNAPSHOT_MAX_BYTES = 1 << 20
_MARKER = b"__TOOLWIRE_ENV__\n"


def find_shell(configured: str | None, env: Mapping[str, str]) -> str:
    """The configured shell, else the user's ``$SHELL`` if it is bash or zsh, else bash, else sh.

    Other shells (fish, nu) do not accept POSIX command lines, which is what models write.
    """
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise ValueError(f"shell {configured!r} not found")
        return found
    user = env.get("SHELL", "")
    if Path(user).name in ("bash", "zsh") and shutil.which(user):
        return user
    return shutil.which("bash") or "/bin/sh"


def shell_argv(shell: str, command: str, *, login: bool) -> list[str]:
    return [shell, "-lc" if login else "-c", command]


async def capture_login_environment(
    prefix: Sequence[str], shell: str, env: Mapping[str, str], cwd: Path
) -> dict[str, str]:
    """Run the login shell once (inside ``prefix``, e.g. the sandbox) and return its environment.

    Raises ``OSError`` or ``TimeoutError`` when the profile cannot be run or takes too long;
    the caller then falls back to the inherited environment.
    """
    script = "printf '%s\\n' __TOOLWIRE_ENV__; exec env -0"
    argv = [*prefix, *shell_argv(shell, script, login=True)]
    proc = await open_group(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    data = bytearray()
    try:
        assert proc.stdout is not None
        with anyio.fail_after(SNAPSHOT_TIMEOUT):
            async for chunk in proc.stdout:
                data += chunk
                if len(data) > SNAPSHOT_MAX_BYTES:
                    raise OSError("the login shell printed more than 1 MB")
            await proc.wait()
    finally:
        await kill_group(proc)
    if proc.returncode != 0:
        raise OSError(f"the login shell exited with status {proc.returncode}")
    start = data.rfind(_MARKER)
    if start < 0:
        raise OSError("the login shell did not run the capture script")
    captured: dict[str, str] = {}
    for entry in bytes(data[start + len(_MARKER) :]).split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            captured[os.fsdecode(name)] = os.fsdecode(value)
    if "PATH" not in captured:
        raise OSError("the login shell's environment has no PATH")
    return captured
