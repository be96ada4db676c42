"""MCP over stdio without worker threads: non-blocking pipe I/O on the event loop.

The SDK's ``mcp.server.stdio.stdio_server`` wraps stdin and stdout with ``anyio.wrap_file``, so
every line read and every write and flush is a hop to a worker thread: about a dozen per
``tools/call``, which is most of what a no-op tool call costs the server. Every MCP client
launches a stdio server with pipes (or a socket pair), and those the event loop can poll. So
when fds 0 and 1 are pipes or sockets, :func:`serve_stdio` reads and writes them with
``os.read``/``os.write`` on non-blocking descriptors and waits with ``anyio.wait_readable`` /
``anyio.wait_writable`` only when a pipe is empty or full. A terminal, a regular file, stdio
that shares stderr's pipe, and Windows are left to the SDK's own transport.

It keeps the SDK transport's contract:

* the protocol runs on private duplicates of fds 0 and 1; while serving, fd 0 reads EOF
  (``/dev/null``) and fd 1 writes to stderr, so a stray ``print()`` in a tool or a child
  process's output never lands in the JSON-RPC stream; both are restored on exit;
* one UTF-8 JSON-RPC message per line, parsed with the SDK's ``jsonrpc_message_adapter``; a
  line that does not parse is handed to the session as an exception, as the SDK does;
* the session gets the same context-carrying memory streams the SDK's transport yields, so
  handlers see the same ``contextvars``.

And it adds what a long-lived pipe server needs: messages larger than the pipe buffer are
written in pieces as the client drains them; a client that closes stdin ends the server
cleanly; one that stops reading (``EPIPE``) ends it too, without a traceback; and a line
longer than ``max_message_bytes`` ends the session with :class:`MessageTooLargeError` instead
of buffering without bound.

``O_NONBLOCK`` belongs to the open file description, which ``dup`` shares, so setting it on
our private duplicate sets it for every descriptor of that pipe. In this process that is only
the duplicate: fd 0 and 1 point elsewhere while we serve, and the duplicates are close-on-exec,
so no child inherits them. Another process shares the description only if it inherited the
same pipe end and uses it while we run; the pipes an MCP client creates for its server are
that server's alone. The one common sharer, stderr redirected into the wire (``2>&1``), is
sent to the SDK's transport (:func:`can_poll_stdio`). The original flags are put back on exit.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, TextIO

import anyio
import mcp.types as types
from anyio.abc import TaskGroup
from mcp.server.mcpserver import MCPServer
from mcp.server.runner import serve_dual_era_loop

# The SDK's stdio transport yields these context-carrying memory streams; using them keeps the
# handlers' contextvars exactly as under the SDK's transport (mcp is pinned to one minor).
from mcp.shared._context_streams import (
    ContextReceiveStream,
    ContextSendStream,
    create_context_streams,
)
from mcp.shared.message import SessionMessage

from servers.common.directcall import DirectTools
from servers.common.fastcall import SendLine, ToolCallLane

if sys.platform != "win32":
    import fcntl

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The longest line read from the other end, on both sides of the pipe: a server reading its
client, and the hub reading its servers (:class:`LineSplitter`)."""
READ_CHUNK = 64 * 1024
"""One ``os.read``: the default capacity of a Linux pipe, and under malloc's mmap threshold."""

ReadStream = ContextReceiveStream[SessionMessage | Exception]
WriteStream = ContextSendStream[SessionMessage]


class MessageTooLargeError(Exception):
    """The client sent a line longer than the limit; the connection was closed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the client sent a message over {limit} bytes without ending the line; "
            "closed the connection (MCP over stdio is one JSON-RPC message per line)"
        )
        self.limit = limit


class LineSplitter:
    """MCP's stdio framing, one JSON-RPC message per line, out of bytes read in arbitrary
    chunks; both ends of a stdio connection (this transport and the hub's) read through it.

    Only the bytes added since the last search are scanned for a newline, and a line longer
    than ``limit``, complete or still arriving, raises :class:`MessageTooLargeError` instead of
    being buffered without bound.
    """

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.limit = limit
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The lines ``chunk`` completes, without their newline, in order. The error for an
        over-long line comes after the lines before it, so those can still be handled."""
        pending = self._pending
        searched = len(pending)  # no newline before here
        pending += chunk
        start = 0
        try:
            while (end := pending.find(b"\n", searched)) >= 0:
                if end - start > self.limit:
                    raise MessageTooLargeError(self.limit)
                line = bytes(pending[start:end])
                start = searched = end + 1
                yield line
        finally:
            del pending[:start]
        if len(pending) > self.limit:
            raise MessageTooLargeError(self.limit)

    def rest(self) -> bytes:
        """What came after the last newline (a last line the other end did not end)."""
        return bytes(self._pending)


def is_pipe_or_socket(fd: int) -> bool:
    """True when ``fd`` is a pipe or a socket: descriptors an event loop can poll for
    readiness. A terminal could be polled too, but O_NONBLOCK on a terminal is shared with the
    user's shell, so it is left to the SDK's thread-based transport like regular files."""
    if sys.platform == "win32":
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _uses_fd(stream: TextIO | None, fd: int) -> bool:
    """Whether ``sys.stdin``/``sys.stdout`` still write through ``fd``. The SDK serves a
    replaced ``sys`` stream (a test harness's, say) instead of the descriptor; so do we, by
    leaving such a process to the SDK's transport."""
    try:
        return stream is not None and stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False


def _same_file(fd: int, other: int) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.fstat(other))
    except OSError:
        return False


def can_poll_stdio() -> bool:
    """Whether this process's stdin and stdout can be served by :func:`pipe_stdio`.

    Not when stderr is the very pipe or socket of the wire (``2>&1``, an inetd-style socket):
    O_NONBLOCK would reach stderr's writers, and stray output diverted there would be on the
    wire anyway; the SDK's transport keeps that setup as it always behaved.
    """
    return (
        is_pipe_or_socket(0)
        and is_pipe_or_socket(1)
        and _uses_fd(sys.stdin, 0)
        and _uses_fd(sys.stdout, 1)
        and not _same_file(2, 0)
        and not _same_file(2, 1)
    )


async def serve_stdio(
    server: MCPServer[Any], *, max_message_bytes: int = MAX_MESSAGE_BYTES
) -> None:
    """Serve ``server`` over stdin/stdout until the client closes stdin or stops reading.

    The same as ``server.run_stdio_async()``, which it falls back to when stdio cannot be polled.
    Modern ``tools/call`` requests take the :class:`~servers.common.fastcall.ToolCallLane`.
    """
    if not can_poll_stdio():
        await server.run_stdio_async()
        return
    # MCPServer.run_stdio_async runs its low-level server; there is no public handle. Its
    # ``run`` is the lifespan around ``serve_dual_era_loop``, spelled out here because the lane
    # serves calls in the same lifespan.
    lowlevel = server._lowlevel_server
    async with lowlevel.lifespan(lowlevel) as lifespan_state:

        def lane(send_line: SendLine, task_group: TaskGroup) -> ToolCallLane:
            return ToolCallLane(
                lowlevel, lifespan_state, send_line, task_group, DirectTools(server)
            )

        async with pipe_stdio(max_message_bytes=max_message_bytes, lane=lane) as streams:
            await serve_dual_era_loop(
                lowlevel,
                *streams,
                lifespan_state=lifespan_state,
                init_options=lowlevel.create_initialization_options(),
            )


@asynccontextmanager
async def pipe_stdio(
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    lane: Callable[[SendLine, TaskGroup], ToolCallLane] | None = None,
) -> AsyncIterator[tuple[ReadStream, WriteStream]]:
    """Claim fds 0 and 1 and yield the session's ``(read_stream, write_stream)``.

    Only for pipes and sockets (:func:`can_poll_stdio`). Raises :class:`MessageTooLargeError` on
    exit if the client sent an over-long line (the session sees end of input first). ``lane``
    builds a :class:`~servers.common.fastcall.ToolCallLane` that is offered every line first;
    its calls end with the session.
    """
    with (
        _claimed(0, _null_input, flush=None) as wire_in,
        _claimed(1, _stderr_output, flush=sys.stdout) as wire_out,
    ):
        pipes = _Pipes(wire_in, wire_out, max_message_bytes)
        async with anyio.create_task_group() as tg:
            if lane is not None:
                pipes.lane = lane(pipes.send_line, tg)
            tg.start_soon(pipes.read_loop)
            tg.start_soon(pipes.write_loop)
            try:
                yield pipes.read_stream, pipes.write_stream
            finally:
                if pipes.lane is not None:
                    pipes.lane.close()
                pipes.stop_reading.cancel()
                pipes.write_stream.close()  # the writer drains what is queued, then ends
        if pipes.error is not None:
            raise pipes.error


class _Pipes:
    """The two pumps between the wire descriptors and the session's memory streams."""

    def __init__(self, wire_in: int, wire_out: int, max_message_bytes: int) -> None:
        self.wire_in = wire_in
        self.wire_out = wire_out
        self.max_message_bytes = max_message_bytes
        self.error: MessageTooLargeError | None = None
        self.lane: ToolCallLane | None = None
        self.connected = True
        """False once the client has closed its end: nothing more is written."""
        self.stop_reading = anyio.CancelScope()
        # Whole messages never interleave on the wire, even when one waits for the pipe to drain.
        self._writing = anyio.Lock(fast_acquire=True)
        # Unbuffered, like the SDK's: the reader waits until the session takes each message.
        self.read_sink, self.read_stream = create_context_streams[SessionMessage | Exception](0)
        self.write_stream, self.write_source = create_context_streams[SessionMessage](0)

    async def read_loop(self) -> None:
        """Split the input into lines and hand each parsed message to the session; closing the
        sink at the end (EOF, client gone, limit hit) tells the session the input is over."""
        with self.stop_reading:
            async with self.read_sink:
                try:
                    await self._read_lines()
                except MessageTooLargeError as exc:
                    self.error = exc
                except anyio.BrokenResourceError:
                    pass  # the session stopped listening; nothing left to deliver

    async def _read_lines(self) -> None:
        lines = LineSplitter(self.max_message_bytes)
        lane = self.lane
        while chunk := await _read_some(self.wire_in):
            for line in lines.feed(chunk):
                if lane is None or not lane.take(line):
                    await self._deliver(line)
        if last := lines.rest():  # a last line without its newline, as the SDK's reader yields
            await self._deliver(last)

    async def _deliver(self, data: bytes) -> None:
        # Decoded like the SDK's text wrapper does (UTF-8, bad bytes replaced), then validated.
        line = data.decode("utf-8", errors="replace")
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except Exception as exc:
            item: SessionMessage | Exception = exc
        else:
            item = SessionMessage(message)
            if self.lane is not None and self.lane.era is None:
                self.lane.observe(message)
        await self.read_sink.send(item)

    async def write_loop(self) -> None:
        """Write each outgoing message as one line. Once the client has closed its end, stop
        reading too (the session ends as on EOF) and drop what is still queued."""
        async with self.write_source:
            async for session_message in self.write_source:
                if not self.connected:
                    continue
                body = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await self.send_line((body + "\n").encode())

    async def send_line(self, line: bytes) -> None:
        """Write one whole message line, unless the client has gone."""
        async with self._writing:
            if not self.connected:
                return
            try:
                await _write_all(self.wire_out, line)
            except (BrokenPipeError, ConnectionResetError):
                logger.debug("the client closed stdout; ending the session")
                self.connected = False
                self.stop_reading.cancel()


async def _read_some(fd: int) -> bytes:
    """The next bytes on a non-blocking ``fd``; ``b""`` at end of input."""
    while True:
        try:
            return os.read(fd, READ_CHUNK)
        except BlockingIOError:
            await anyio.wait_readable(fd)
        except ConnectionResetError:
            return b""


async def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a non-blocking ``fd``, waiting whenever the pipe is full."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            await anyio.wait_writable(fd)
        else:
            view = view[written:]


def _null_input() -> int:
    return os.open(os.devnull, os.O_RDONLY)


def _stderr_output() -> int:
    try:
        return os.dup(2)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


@contextmanager
def _claimed(fd: int, diversion: Callable[[], int], *, flush: TextIO | None) -> Iterator[int]:
    """Move the wire on ``fd`` to a private non-blocking duplicate, point ``fd`` at
    ``diversion()`` while serving, and put both back on exit. ``flush`` is the ``sys`` stream
    over ``fd``: stray output buffered in it while serving goes to the diversion, not the wire.
    """
    wire = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    flags = fcntl.fcntl(wire, fcntl.F_GETFL)
    try:
        fcntl.fcntl(wire, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        stand_in = diversion()
        try:
            os.dup2(stand_in, fd)
        finally:
            os.close(stand_in)
        try:
            yield wire
        finally:
            if flush is not None:
                with suppress(Exception):
                    flush.flush()
            os.dup2(wire, fd)
    finally:
        fcntl.fcntl(wire, fcntl.F_SETFL, flags)
        os.close(wire)


__all__ = [
    "MAX_MESSAGE_BYTES",
    "LineSplitter",
    "MessageTooLargeError",
    "can_poll_stdio",
    "is_pipe_or_socket",
    "pipe_stdio",
    "serve_stdio",
]
