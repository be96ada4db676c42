"""``toolwire dev PATH_OR_MODULE``: run a server under development; restart it on every change.

The server runs as its own process over streamable HTTP on a fixed URL (default
``http://127.0.0.1:8765/mcp``), so it survives nothing of its previous life and clients can
reconnect to the same address. Each time a Python file under the target's package changes
(watchfiles), the process is stopped with its whole group and started again, and its tools are
listed, so a broken schema or an import error shows at once. Try a tool with
``toolwire call URL TOOL key=value``, or point the MCP Inspector at the URL.

TARGET is a ``.py`` file, a package directory, or a module (``pkg.server:create_server``); see
:mod:`agent.testing.target` for how the server is found in it. Arguments after ``--`` go to the
server (``toolwire dev my_server -- --token s3cret``).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
from anyio.abc import Process

SERVING = re.compile(r"serving MCP at (http://\S+)")
PREFIX = "toolwire dev:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="PATH_OR_MODULE", help="file, package dir or module")
    parser.add_argument("server_args", nargs="*", metavar="-- ARGS", help="passed to the server")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: pick a free one once)")
    parser.add_argument(
        "--root", action="append", default=[], metavar="DIR", help="workspace root(s) to serve"
    )
    parser.add_argument(
        "--watch", action="append", default=[], type=Path, metavar="DIR",
        help="directory to watch (default: the target's package); repeatable",
    )  # fmt: skip


def say(text: str) -> None:
    print(f"{PREFIX} {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    from agent.testing.target import TargetError, resolve_target

    try:
        target = resolve_target(args.target)
    except TargetError as exc:
        print(f"{PREFIX} {exc}", file=sys.stderr)
        return 2
    watch = [p.resolve() for p in args.watch] or [target.watch]
    port = args.port or _free_port(args.host)
    argv = [sys.executable, "-m", "agent.testing.serve", args.target, "--http"]
    argv += ["--host", args.host, "--port", str(port)]
    for root in args.root:
        argv += ["--root", root]
    argv += list(args.server_args)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_until_signalled, argv, watch)
    return 0


async def _until_signalled(argv: list[str], watch: Sequence[Path]) -> None:
    """Supervise until SIGTERM or SIGINT, then stop the server: it runs in its own process
    group, so without this a ``kill`` of ``toolwire dev`` would leave it serving."""
    async with anyio.create_task_group() as tasks:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            tasks.start_soon(_supervise, argv, watch)
            async for _ in signals:
                tasks.cancel_scope.cancel()
                break


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def _changes(watch: Sequence[Path]) -> AsyncIterator[list[str]]:
    from watchfiles import PythonFilter, awatch

    async for changes in awatch(*watch, watch_filter=PythonFilter(), debounce=300, step=50):
        yield sorted({Path(path).name for _, path in changes})


async def _supervise(argv: list[str], watch: Sequence[Path]) -> None:
    from servers.common.process import OrphanGuard, open_group, terminate_group

    say(f"watching {', '.join(map(str, watch))}")
    changes = _changes(watch)
    # The server runs in its own process group; the guard stops it even if this process is
    # SIGKILLed (or cannot finish a graceful shutdown in time).
    guard = OrphanGuard()
    await guard.start()
    try:
        while True:
            proc = await open_group(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
            guard.add(proc.pid)
            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(_follow, proc)
                    changed = await anext(changes)
                    tasks.cancel_scope.cancel()
            finally:
                await terminate_group(proc, grace=2.0)
                guard.discard(proc.pid)
                with anyio.CancelScope(shield=True):
                    await proc.aclose()
            say(f"changed: {', '.join(changed)}; restarting")
    finally:
        await guard.aclose()


async def _follow(proc: Process) -> None:
    """Echo the server's stderr; announce its URL and tools once it serves; report its death."""
    assert proc.stderr is not None
    pending = b""
    announced = False
    async for chunk in proc.stderr:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace")
            match = SERVING.search(line)
            if match and not announced:
                announced = True
                await _announce(match.group(1))
            else:
                print(line, file=sys.stderr, flush=True)
    code = await proc.wait()
    say(f"the server exited with code {code}; fix it and save to restart")


async def _announce(url: str) -> None:
    from agent.testing.session import connect

    say(f"serving at {url}")
    try:
        with anyio.fail_after(30):
            async with connect(url, mode="legacy") as session:
                names = await session.tool_names()
    except Exception as exc:
        say(f"could not list its tools: {exc}")
        return
    say(f"tools: {', '.join(sorted(names)) or '(none)'}")
    if names:
        say(f"try: toolwire call {url} {sorted(names)[0]} key=value ...")
