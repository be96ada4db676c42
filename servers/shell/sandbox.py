"""Sandboxing commands with bubblewrap, and finding out whether that is possible here.

bubblewrap (``bwrap``) builds a throw-away mount and process world for one command in about
3-4 ms: the host's root file system bound read-only, the workspace roots bound writable (in
``workspace-write``), a private ``/tmp``, a fresh ``/dev`` and ``/proc``, an empty network
namespace (loopback only, so nothing outside the sandbox is reachable, not even a server on the
host's 127.0.0.1), and a PID namespace so that when the command ends everything it started ends
with it. ``--die-with-parent`` ties the sandbox to the server: if the server dies, so does bwrap,
and with it the whole PID namespace.

Whether bwrap works is a property of the machine (it needs user namespaces, which containers and
some distributions disable), so the server probes it once, at start, with the same options it
will use, and reports the mode it really runs in.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from schemas.shell import SandboxMode

SandboxFallback = Literal["refuse", "unsandboxed"]

PROBE_TIMEOUT = 10.0

INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"


class SandboxUnavailableError(RuntimeError):
    """A sandboxed mode was asked for and bubblewrap cannot provide it."""


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of trying bwrap once: its path if it works, otherwise why not."""

    bwrap: str | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.bwrap is not None


def _namespace_options() -> list[str]:
    return [
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
    ]  # fmt: skip


@functools.cache
def probe_bwrap(bwrap: str | None = None) -> Probe:
    """Run ``true`` inside the sandbox this module builds; cached per bwrap path.

    Blocking (a few milliseconds, once): call it while building the server, not from a tool.
    """
    path = shutil.which(bwrap or "bwrap")
    if path is None:
        return Probe(None, f"{bwrap or 'bwrap'} not found; {INSTALL_HINT}")
    argv = [path, *_namespace_options(), "--", "/bin/sh", "-c", ":"]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(None, f"{path} could not be run: {exc}")
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {done.returncode}"
        return Probe(None, f"{path} cannot create a sandbox here: {detail}")
    return Probe(path)


@dataclass(frozen=True, slots=True)
class SandboxPlan:
    """The mode asked for, the mode commands really run in, and why they differ."""

    requested: SandboxMode
    effective: SandboxMode
    bwrap: str | None
    note: str = ""

    @property
    def sandboxed(self) -> bool:
        return self.effective != "danger-full-access"


def plan_sandbox(
    requested: SandboxMode, fallback: SandboxFallback, bwrap: str | None = None
) -> SandboxPlan:
    """Decide the effective mode; raise :class:`SandboxUnavailableError` rather than pretend."""
    if requested == "danger-full-access":
        return SandboxPlan(requested, requested, None)
    probe = probe_bwrap(bwrap)
    if probe.ok:
        return SandboxPlan(requested, requested, probe.bwrap)
    if fallback == "unsandboxed":
        note = (
            f"sandbox {requested!r} was requested but is unavailable ({probe.reason}); "
            "commands run UNSANDBOXED (danger-full-access)"
        )
        return SandboxPlan(requested, "danger-full-access", None, note)
    raise SandboxUnavailableError(
        f"sandbox {requested!r} needs bubblewrap, which is unavailable: {probe.reason}. "
        "Start with --sandbox-fallback=unsandboxed to run commands without a sandbox, or "
        "--sandbox=danger-full-access to ask for no sandbox explicitly."
    )


@functools.cache
def host_tmp_passthrough() -> tuple[Path, ...]:
    """Host directories under /tmp that commands need to start at all, exposed read-only
    inside the private /tmp: the server's own Python installation (a checkout or virtual
    environment under /tmp, as in a CI clone) and the directories on PATH, each with its
    virtual environment when it is one. Everything else under the host's /tmp stays hidden.
    """
    tmp = Path("/tmp")
    candidates = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry:
            directory = Path(entry)
            is_venv_bin = (directory.parent / "pyvenv.cfg").exists()
            candidates.append(directory.parent if is_venv_bin else directory)
    found: list[Path] = []
    for candidate in candidates:
        real = Path(os.path.realpath(candidate))
        if real.is_relative_to(tmp) and real != tmp and real.is_dir() and real not in found:
            found.append(real)
    # Drop directories already inside another one on the list.
    return tuple(p for p in found if not any(p != q and p.is_relative_to(q) for q in found))


def bwrap_argv(bwrap: str, mode: SandboxMode, roots: Sequence[Path], workdir: Path) -> list[str]:
    """The ``bwrap ... --`` prefix that runs a command in ``mode`` inside ``workdir``.

    Binds come after ``--tmpfs /tmp`` so that a workspace under /tmp (a test's tmp_path) is
    still the real directory, not an empty spot in the private /tmp; the roots come after the
    read-only :func:`host_tmp_passthrough` binds, so a root inside one stays writable. In
    ``workspace-write`` each root's ``.git`` is bound read-only over the writable root: a
    command may change the work tree but not rewrite history, hooks or config.
    """
    argv = [bwrap, *_namespace_options()]
    for passthrough in host_tmp_passthrough():
        argv += ["--ro-bind", str(passthrough), str(passthrough)]
    writable = mode == "workspace-write"
    for root in roots:
        argv += ["--bind" if writable else "--ro-bind", str(root), str(root)]
    if writable:
        for root in roots:
            git = root / ".git"
            if git.exists():
                argv += ["--ro-bind", str(git), str(git)]
    argv += ["--chdir", str(workdir), "--"]
    return argv


def describe(plan: SandboxPlan, roots: Sequence[Path]) -> str:
    """One sentence for the server's instructions: what commands may and may not do."""
    shown = ", ".join(str(r) for r in roots)
    if plan.effective == "read-only":
        text = (
            "Commands run in a read-only sandbox: no file outside a private /tmp can be "
            "changed, and there is no network."
        )
    elif plan.effective == "workspace-write":
        text = (
            f"Commands run in a sandbox: they may write only inside {shown} (except .git) "
            "and a private /tmp, and there is no network."
        )
    else:
        text = "Commands run without a sandbox (danger-full-access)."
    return f"{text} {plan.note}".strip()
