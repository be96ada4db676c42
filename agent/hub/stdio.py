"""The stdio transport the hub uses: the SDK's wire format, plus what a supervisor must know.

The MCP SDK's ``stdio_client`` speaks the protocol well but hides the process. A hub that
must say *why* a server failed needs more: the exit code or signal, the tail of stderr (where
a Python traceback or "command not found" lands), and whether the server wrote something
other than JSON-RPC on stdout (a stray ``print`` is the most common way to break a stdio
server). It also needs to notice a server that died while idle, so the next call restarts it
instead of failing first. So this transport, which satisfies the SDK's ``Transport`` protocol
and plugs into ``mcp.Client``, keeps:

* :attr:`StdioTransport.gone`, set when stdout closes or the process exits;
* the first and last few KB of stderr (bounded memory however much a server logs);
* a count of non-JSON-RPC stdout lines and the first of them;
* a cap on one message's size, so a runaway server cannot exhaust the agent's memory.

It also carries the hub's lean ``tools/call`` path (:mod:`agent.hub.fastcall`): such a request
is written with :meth:`StdioTransport.send_line`, and its response is picked off stdout by
:meth:`StdioTransport.expect_reply` before the SDK's parse, so it never becomes a pydantic model.

The child runs in its own process group (``servers.common.process``). Shutdown follows the MCP
spec: close stdin, give the server a moment to exit, then SIGTERM and SIGKILL the whole group;
it is shielded from cancellation, so cancelling the hub never leaks a server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from types import TracebackType
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import ByteReceiveStream, Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client._transport import TransportStreams
from mcp.shared.dispatcher import as_request_id, coerce_request_id
from mcp.shared.message import SessionMessage
from mcp_types import RequestId
from pydantic import ValidationError
from pydantic_core import from_json

from agent.hub.spec import StdioLaunch, UnavailableError
from servers.common.limits import HeadTailBuffer
from servers.common.process import open_group, terminate_group
from servers.common.stdio import MAX_MESSAGE_BYTES, LineSplitter, MessageTooLargeError

logger = logging.getLogger(__name__)

STDIN_CLOSE_GRACE = 1.0
"""Seconds a server gets to exit by itself after its stdin closes (spec: close, wait, kill)."""
TERM_GRACE = 1.0


class Reply:
    """The one outcome of a request sent around the SDK: its response object, or None when the
    connection closed first."""

    __slots__ = ("_done", "message")

    def __init__(self) -> None:
        self._done = anyio.Event()
        self.message: dict[str, Any] | None = None

    def resolve(self, message: dict[str, Any] | None) -> None:
        if not self._done.is_set():  # the first answer wins; the SDK drops a duplicate too
            self.message = message
            self._done.set()

    async def wait(self) -> dict[str, Any] | None:
        await self._done.wait()
        return self.message


class StdioTransport:
    """``Client(StdioTransport(launch))`` runs a stdio server and watches it."""

    def __init__(self, launch: StdioLaunch, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.launch = launch
        self.max_message_bytes = max_message_bytes
        self.process: Process | None = None
        self.gone = anyio.Event()
        self.stderr = HeadTailBuffer(4096, 8192)
        self.bad_lines = 0
        self.first_bad_line: str | None = None
        self.fault: str | None = None
        """Why *we* gave up on the server (an oversized message), if we did."""
        self.closed_by_us = False
        """True when the client shut the server down while it was still running."""
        self._context: AbstractAsyncContextManager[TransportStreams] | None = None
        self._replies: dict[RequestId, Reply] = {}
        self._replies_open = False
        """True while stdout is read, so a response can still arrive."""
        self._to_stdin: MemoryObjectSendStream[SessionMessage | bytes] | None = None
        self._stdin_queue: MemoryObjectReceiveStream[SessionMessage | bytes] | None = None
        self._from_stdout: MemoryObjectSendStream[SessionMessage | Exception] | None = None
        self._direct_writes = False

    async def __aenter__(self) -> TransportStreams:
        self._context = self._open()
        return await self._context.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._context is not None
        return await self._context.__aexit__(exc_type, exc, tb)

    # ---------------------------------------------------------------- what went wrong

    @property
    def died(self) -> bool:
        """The server stopped by itself (it was not us shutting it down)."""
        return self.gone.is_set() and not self.closed_by_us

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def exit_description(self) -> str:
        """``exited with code 1``, ``was killed by SIGKILL``, or ``closed its stdout``."""
        code = self.returncode
        if self.fault:
            return self.fault
        if code is None:
            return "closed its stdout"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def stderr_tail(self, max_chars: int = 2000) -> str:
        """The end of what the server wrote to stderr (the whole of it if short)."""
        text = self.stderr.render().strip()
        if len(text) > max_chars:
            text = "..." + text[-max_chars:]
        return text

    def stdout_problem(self) -> str | None:
        """A sentence about non-protocol output on stdout, if there was any."""
        if not self.bad_lines:
            return None
        sample = (self.first_bad_line or "")[:200]
        return (
            f"wrote {self.bad_lines} line(s) on stdout that are not JSON-RPC "
            f"(first: {sample!r}); a stdio server must log to stderr"
        )

    async def wait_exit(self, seconds: float) -> None:
        """Give a dying process a moment to be reaped, so its exit code can be reported."""
        with anyio.move_on_after(seconds):
            await self.gone.wait()
            await _reaped(self.process)

    # ---------------------------------------------------------------- the transport

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[TransportStreams]:
        launch = self.launch
        try:
            process = await open_group(
                launch.argv,
                cwd=launch.cwd,
                env=launch.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            missing = exc.filename if exc.filename else launch.argv[0]
            if not launch.cwd.is_dir():
                raise UnavailableError(f"working directory {launch.cwd} does not exist") from None
            raise UnavailableError(f"command not found: {missing}") from None
        except PermissionError:
            raise UnavailableError(f"not allowed to run {launch.argv[0]}") from None
        except OSError as exc:
            raise UnavailableError(f"cannot start {launch.argv[0]}: {exc.strerror}") from None
        self.process = process

        read_send, read_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_send, write_receive = anyio.create_memory_object_stream[SessionMessage | bytes](0)
        self._to_stdin, self._stdin_queue, self._from_stdout = write_send, write_receive, read_send
        self._direct_writes = _whole_writes()
        self._replies_open = True
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pump_stdout, process, read_send)
                tg.start_soon(self._pump_stdin, process, write_receive, read_send)
                tg.start_soon(self._pump_stderr, process)
                tg.start_soon(self._watch_exit, process)
                try:
                    yield read_receive, write_send
                finally:
                    self.closed_by_us = not self.gone.is_set()
                    with anyio.CancelScope(shield=True):
                        await self._shutdown(process)
                    tg.cancel_scope.cancel()
        finally:
            for stream in (read_send, read_receive, write_send, write_receive):
                stream.close()

    async def _pump_stdout(
        self, process: Process, out: MemoryObjectSendStream[SessionMessage | Exception]
    ) -> None:
        assert process.stdout is not None
        lines = LineSplitter(self.max_message_bytes)
        try:
            async with out:
                async for chunk in process.stdout:
                    for line in lines.feed(chunk):
                        if self._replies and self._take_reply(line):
                            continue
                        message = self._parse(line)
                        if message is not None:
                            await out.send(message)
        except MessageTooLargeError:
            self.fault = f"sent a message larger than {self.max_message_bytes // 2**20} MiB"
            logger.warning("stdio server %s", self.fault)
            return
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the session went away, or our own shutdown closed the pipe
        except anyio.get_cancelled_exc_class():
            # Cancelled with the client (e.g. a start-up deadline): the server did not go away
            # by itself, so do not report it gone; the shutdown that follows decides.
            with anyio.CancelScope(shield=True):
                await _drain(process.stdout)
            raise
        finally:
            self.end_replies()
        self.gone.set()
        await _drain(process.stdout)

    def _parse(self, line: bytes) -> SessionMessage | None:
        line = line.strip()
        if not line:
            return None
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except (ValidationError, ValueError):
            self.bad_lines += 1
            if self.first_bad_line is None:
                self.first_bad_line = line[:500].decode("utf-8", "replace")
            logger.debug("non-JSON-RPC line on stdout: %.200r", line)
            return None
        return SessionMessage(message)

    async def _pump_stdin(
        self,
        process: Process,
        incoming: MemoryObjectReceiveStream[SessionMessage | bytes],
        read_send: MemoryObjectSendStream[SessionMessage | Exception],
    ) -> None:
        assert process.stdin is not None
        try:
            async with incoming:
                async for message in incoming:
                    if isinstance(message, bytes):  # a line from send_line, already encoded
                        await process.stdin.send(message)
                        continue
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(data.encode() + b"\n")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            self._stdin_broken(read_send)

    def _stdin_broken(self, read_send: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
        """The server stopped reading: end the session so no request waits forever."""
        self.gone.set()
        read_send.close()

    # ---------------------------------------------------------------- requests sent around the SDK

    @property
    def takes_replies(self) -> bool:
        """Whether a request written with :meth:`send_line` can still get its response."""
        return self._replies_open and not self.gone.is_set()

    def expect_reply(self, request_id: RequestId) -> Reply:
        """Claim the response to ``request_id`` (matched as the SDK matches: "7" is 7) before it
        reaches the SDK. The caller must :meth:`forget_reply` it on every way out."""
        reply = Reply()
        if self._replies_open:
            self._replies[coerce_request_id(request_id)] = reply
        else:
            reply.resolve(None)
        return reply

    def forget_reply(self, request_id: RequestId) -> None:
        """Stop claiming ``request_id``: a late response goes to the SDK, which drops an unknown
        id with a debug log, as it drops late answers to its own abandoned requests."""
        self._replies.pop(coerce_request_id(request_id), None)

    def awaits_reply(self, request_id: RequestId) -> bool:
        return coerce_request_id(request_id) in self._replies

    def end_replies(self) -> None:
        """No response can arrive any more: every waiting request learns the connection closed."""
        self._replies_open = False
        replies = list(self._replies.values())
        self._replies.clear()
        for reply in replies:
            reply.resolve(None)

    def _take_reply(self, line: bytes) -> bool:
        """Resolve a claimed request if ``line`` is its response; False leaves it to the SDK.

        Only called while a claim is open, so other lines are parsed twice only then."""
        try:
            message = from_json(line)
        except ValueError:
            return False
        if type(message) is not dict or "method" in message:
            return False
        if "result" not in message and "error" not in message:
            return False
        request_id = as_request_id(message.get("id"))
        if request_id is None:
            return False
        reply = self._replies.get(coerce_request_id(request_id))
        if reply is None:
            return False
        reply.resolve(message)
        return True

    async def send_line(self, line: bytes) -> None:
        """Write one encoded message, ``line`` (newline included), after everything the SDK has
        already handed to the transport.

        The SDK's messages reach stdin through :meth:`_pump_stdin`, which takes one at a time
        from an unbuffered stream; a message it holds has been "sent" as far as its sender knows.
        So the line goes straight to the pipe only while the pump waits empty-handed (a handed
        over message leaves the stream's waiting receivers at once, before the pump runs);
        otherwise it queues behind, and the wire keeps the order the senders saw.

        Writing straight to the pipe beside the pump is safe on asyncio: anyio's process stdin
        calls ``StreamWriter.write`` with the whole line and no await before it, and the pipe
        transport either writes it or appends all of it to its buffer, in call order; a second
        writer's line can only come before or after it; and ``StreamWriter.drain`` takes
        concurrent waiters. Other backends (trio refuses concurrent sends) always queue.

        Raises:
            anyio.BrokenResourceError: The server stopped reading (the session is ended, as
                when the pump's write fails).
            anyio.ClosedResourceError: The session closed its side.
        """
        assert self.process is not None and self.process.stdin is not None
        assert self._to_stdin is not None and self._stdin_queue is not None
        if self._direct_writes and self._stdin_queue.statistics().tasks_waiting_receive:
            try:
                await self.process.stdin.send(line)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                assert self._from_stdout is not None
                self._stdin_broken(self._from_stdout)
                raise anyio.BrokenResourceError from None
        else:
            await self._to_stdin.send(line)

    async def _pump_stderr(self, process: Process) -> None:
        assert process.stderr is not None
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for chunk in process.stderr:
                self.stderr.feed(chunk)

    async def _watch_exit(self, process: Process) -> None:
        await process.wait()
        self.gone.set()

    async def _shutdown(self, process: Process) -> None:
        if process.stdin is not None:
            with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                await process.stdin.aclose()
        with anyio.move_on_after(STDIN_CLOSE_GRACE):
            await _reaped(process)
        # Always signal the group: the leader may be gone while its children are not.
        await terminate_group(process, grace=TERM_GRACE)


def _whole_writes() -> bool:
    """Whether a message can be written beside the stdin pump (see ``send_line``): asyncio."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _reaped(process: Process | None) -> None:
    """Wait until the process has exited, by polling its return code.

    Not ``process.wait()``: on asyncio that also waits for the pipes to close, and a grandchild
    that inherited them would make an exited server look alive (the SDK polls for the same
    reason).
    """
    while process is not None and process.returncode is None:  # noqa: ASYNC110
        await anyio.sleep(0.01)


async def _drain(stream: ByteReceiveStream) -> None:
    """Read and drop the rest of stdout, so a server blocked writing can still exit."""
    with anyio.CancelScope(shield=True), suppress(Exception):
        with anyio.move_on_after(STDIN_CLOSE_GRACE + TERM_GRACE + 1):
            async for _ in stream:
                pass
