"""The WebSocket transport: one connection per session, each turn only the new items.

The Responses API's WebSocket mode keeps the last response of a connection in memory, even
with ``store: false``. A turn is a ``response.create`` frame naming that response in
``previous_response_id`` and carrying only the items added since (the tool outputs), so a
turn's upload stays small however long the conversation grows. The frame must still repeat
every non-input field, the ``tools`` array included; permessage-deflate (on by default in
``websockets``) turns those repeated kilobytes into a few bytes because the previous frame
is still in the compressor's window.

When the incremental form is not safe, the full input is sent instead (and nothing is
lost but bytes): on the first turn of a connection; after a reconnect; after
``previous_response_not_found`` (the server evicts its copy when a request fails); after any
turn that did not complete; when a non-input field changed (new tools, other instructions);
or when the history was rewritten (compaction) or does not continue the server's copy
item for item.

Connection care: keepalive pings find half-open sockets; an idle watchdog fails a response
whose events stop arriving; connections are renewed before the service's 60-minute limit
and again when it reports ``websocket_connection_limit_reached``. An upgrade refusal (HTTP
426, or a 404/405 from a server without this mode) switches the session to HTTP at once and
for good.

``websockets`` runs on asyncio only, so this transport does too (anyio's default backend).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Literal

import anyio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.protocol import State

from agent.model.base import Event, ModelEvent, TransportStats, retrying
from agent.model.errors import ModelError, UpgradeRefusedError
from agent.model.http import SKIPPABLE, HttpTransport, error_from_body, stream_error
from agent.model.request import History, Item, RequestTemplate
from agent.model.retry import RetryPolicy
from schemas.responses import CompactedResponse

_loads = json.loads

REFUSAL_STATUSES: frozenset[int] = frozenset({400, 404, 405, 426, 501})
"""Upgrade answers that mean "no WebSocket mode here" rather than "try again later"."""

SKIPPABLE_PREFIXES: tuple[bytes, ...] = tuple(
    b'{"type":"' + kind.encode() + b'"' for kind in sorted(SKIPPABLE)
)
""":data:`~agent.model.http.SKIPPABLE` events as their frames begin (the API writes
``type`` first; a frame that does not is simply parsed)."""

CONNECTION_LIFETIME = 55 * 60.0
"""Renew a connection before the service closes it at 60 minutes."""


@dataclass(slots=True)
class _Chain:
    """What the server holds after a completed response: the request's non-input fields,
    the history (epoch and length) it covered, and the output items it produced."""

    static: bytes
    epoch: int
    covered: int
    response_id: str
    outputs: list[Item]


def deflate() -> ClientPerMessageDeflateFactory:
    """permessage-deflate with the full 32 KiB window for what we send.

    Each frame repeats the ``tools`` array and the other non-input fields, so the saving
    comes from finding them in the *previous* frame, tens of kilobytes back. Not offering
    ``client_max_window_bits`` means the server cannot shrink our window (RFC 7692 §7.1.2.2;
    uvicorn, for one, would answer 12 bits = 4 KiB, which finds none of it); the server
    still chooses the window for what it sends us.
    """
    return ClientPerMessageDeflateFactory(
        client_max_window_bits=None, compress_settings={"memLevel": 8}
    )


class _IdleWatchdog:
    """Aborts the connection when no event has arrived for ``timeout`` seconds.

    One timer per response rather than a timeout scope per ``recv``: a scope costs about
    10 µs, which over dozens of events a turn would be the largest cost in the client. Each
    event only stores a timestamp; the timer rechecks when it fires.
    """

    __slots__ = ("_handle", "_loop", "_timeout", "_ws", "fired", "last")

    def __init__(self, ws: ClientConnection, timeout: float) -> None:
        self._ws = ws
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self.last = self._loop.time()
        self.fired = False
        self._handle = self._loop.call_later(timeout, self._check)

    def _check(self) -> None:
        idle = self._loop.time() - self.last
        if idle >= self._timeout:
            self.fired = True
            self._ws.transport.abort()
        else:
            self._handle = self._loop.call_later(self._timeout - idle, self._check)

    def cancel(self) -> None:
        self._handle.cancel()


class WebSocketTransport:
    """Responses API over a persistent WebSocket, with incremental turns."""

    def __init__(
        self,
        url: str,
        http: HttpTransport,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        max_size: int = 64 * 1024 * 1024,
        ping_interval: float = 20.0,
        ping_timeout: float = 20.0,
        idle_timeout: float = 300.0,
        connect_timeout: float = 15.0,
        lifetime: float = CONNECTION_LIFETIME,
        compression: bool = True,
        skip_lifecycle: bool = False,
    ) -> None:
        self._url = url
        self._http = http
        self._headers = dict(headers or {})
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._retry = retry or RetryPolicy()
        self._max_size = max_size
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._idle_timeout = idle_timeout
        self._connect_timeout = connect_timeout
        self._lifetime = lifetime
        self._compression = compression
        self._skip = SKIPPABLE_PREFIXES if skip_lifecycle else ()
        self._ws: ClientConnection | None = None
        self._connected_at = 0.0
        self._connections = 0
        self._chain: _Chain | None = None
        self._fell_back = False
        self._connecting = anyio.Lock()
        self.stats = TransportStats()

    @property
    def name(self) -> Literal["http", "websocket"]:
        return "http" if self._fell_back else "websocket"

    @property
    def fell_back(self) -> bool:
        return self._fell_back

    @property
    def http(self) -> HttpTransport:
        return self._http

    @property
    def connection(self) -> ClientConnection | None:
        """The open connection, if any (tests inspect the negotiated extensions)."""
        return self._ws

    def reset(self) -> None:
        self._chain = None

    def stream(
        self, template: RequestTemplate, history: History
    ) -> AsyncGenerator[ModelEvent, None]:
        if self._fell_back:
            return self._http_stream(template, history)
        return self._stream(template, history)

    async def _http_stream(
        self, template: RequestTemplate, history: History
    ) -> AsyncGenerator[ModelEvent, None]:
        self.stats.requests += 1
        before = self._http.stats.bytes_sent
        try:
            async for event in self._http.stream(template, history):
                yield event
        finally:
            self.stats.full_requests += 1
            self.stats.bytes_sent += self._http.stats.bytes_sent - before

    async def _stream(
        self, template: RequestTemplate, history: History
    ) -> AsyncGenerator[ModelEvent, None]:
        try:
            async for event in retrying(
                lambda: self._attempt(template, history),
                self._retry,
                self.stats,
                on_failure=self._on_failure,
            ):
                yield event
        except UpgradeRefusedError:
            self._fell_back = True
            self.stats.fallbacks += 1
            async for event in self._http_stream(template, history):
                yield event

    def _on_failure(self, error: ModelError) -> None:
        # The server drops its copy of the last response when a request fails; a retry
        # must carry everything.
        self._chain = None

    # -- connection --------------------------------------------------------------------

    async def prepare(self) -> None:
        """Open the connection ahead of the first request (the CLI does this while the
        tool servers start), so the first turn does not pay for TCP, TLS and the upgrade.
        Failures are left for the first request to meet and handle."""
        if self._fell_back:
            return
        try:
            await self._connection()
        except UpgradeRefusedError:
            self._fell_back = True
            self.stats.fallbacks += 1
        except ModelError:
            pass

    async def _connection(self) -> ClientConnection:
        ws = self._ws
        fresh = time.monotonic() - self._connected_at <= self._lifetime
        if ws is not None and ws.state is State.OPEN and fresh:
            return ws
        async with self._connecting:  # one connection, even if prepare() is still at it
            return await self._connect()

    async def _connect(self) -> ClientConnection:
        ws = self._ws
        if ws is not None:
            expired = time.monotonic() - self._connected_at > self._lifetime
            if ws.state is State.OPEN and not expired:
                return ws  # opened while this task waited for the lock
            await self._discard()
        try:
            ws = await connect(
                self._url,
                additional_headers=self._headers,
                compression=None,
                extensions=[deflate()] if self._compression else None,
                max_size=self._max_size,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                open_timeout=self._connect_timeout,
                close_timeout=2.0,
                user_agent_header="toolwire",
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = bytes(exc.response.body or b"")
            if status in REFUSAL_STATUSES:
                raise UpgradeRefusedError(
                    f"the server refused the WebSocket upgrade (HTTP {status})", status=status
                ) from exc
            raise error_from_body(status, body, exc.response.headers) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise ModelError(
                f"WebSocket connection failed: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        self._count_wire_bytes(ws)
        if self._connections:
            self.stats.reconnects += 1
        self._connections += 1
        self._ws = ws
        self._connected_at = time.monotonic()
        self._chain = None  # a new connection knows no earlier response
        return ws

    def _count_wire_bytes(self, ws: ClientConnection) -> None:
        """Count what really leaves (after permessage-deflate), for the byte figures."""
        transport = ws.transport
        write = transport.write
        stats = self.stats

        def counting_write(data: bytes | bytearray | memoryview) -> None:
            stats.wire_bytes_sent += len(data)
            write(data)

        with contextlib.suppress(AttributeError):  # a transport that forbids it: no count
            transport.write = counting_write  # type: ignore[method-assign]

    async def _discard(self) -> None:
        ws, self._ws = self._ws, None
        self._chain = None
        if ws is not None:
            # Shielded: this also runs while a cancelled session shuts down.
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(2.0) as scope,
                contextlib.suppress(OSError, ConnectionClosed),
            ):
                await ws.close()
            if scope.cancelled_caught:
                ws.transport.abort()

    def _abandon(self) -> None:
        """Drop the connection without waiting (used where awaiting is not possible: a
        response abandoned mid-stream, whose late events would confuse the next turn)."""
        ws, self._ws = self._ws, None
        self._chain = None
        if ws is not None:
            ws.transport.abort()

    # -- one attempt -------------------------------------------------------------------

    def _frame(self, template: RequestTemplate, history: History) -> tuple[bytes, bool]:
        chain = self._chain
        if (
            chain is not None
            and chain.epoch == history.epoch
            and (chain.static is template.static or chain.static == template.static)
        ):
            start = chain.covered
            end = start + len(chain.outputs)
            items = history.items
            if len(items) >= end and all(
                items[start + i] is out for i, out in enumerate(chain.outputs)
            ):
                return template.ws_frame(history.joined_from(end), chain.response_id), True
        return template.ws_frame(history.joined, None), False

    async def _attempt(
        self, template: RequestTemplate, history: History
    ) -> AsyncGenerator[Event, None]:
        ws = await self._connection()
        frame, incremental = self._frame(template, history)
        covered = len(history)
        epoch = history.epoch
        stats = self.stats
        stats.requests += 1
        stats.bytes_sent += len(frame)
        if incremental:
            stats.incremental_requests += 1
        else:
            stats.full_requests += 1
        self._chain = None
        finished = False
        watchdog: _IdleWatchdog | None = None
        try:
            try:
                await ws.send(frame, text=True)
            except ConnectionClosed as exc:
                self._abandon()
                raise ModelError(f"the WebSocket closed: {exc}", retryable=True) from exc
            watchdog = _IdleWatchdog(ws, self._idle_timeout)
            outputs: list[Item] = []
            recv = ws.recv
            skip = self._skip
            loop_time = asyncio.get_running_loop().time
            while True:
                try:
                    raw = await recv(decode=False)
                except ConnectionClosed as exc:
                    self._abandon()
                    if watchdog.fired:
                        reason = f"no event for {self._idle_timeout:g} s"
                    else:
                        reason = f"the WebSocket closed ({exc})"
                    raise ModelError(reason, retryable=True) from exc
                watchdog.last = loop_time()
                if skip and raw.startswith(skip):
                    continue
                event: Event = _loads(raw)
                kind = event.get("type")
                if kind == "error" or kind == "response.failed":
                    finished = True
                    error = stream_error(event)
                    if error.code == "previous_response_not_found":
                        error.retryable, error.retry_after = True, 0.0
                    elif error.code == "websocket_connection_limit_reached":
                        await self._discard()
                        error.retryable, error.retry_after = True, 0.0
                    raise error
                if kind == "response.output_item.done":
                    outputs.append(event["item"])
                yield event
                if kind == "response.completed":
                    finished = True
                    response_id = event["response"]["id"]
                    self._chain = _Chain(template.static, epoch, covered, response_id, outputs)
                    return
                if kind == "response.incomplete":
                    finished = True
                    return
        except ValueError as exc:
            finished = False
            raise ModelError(f"malformed event from the model: {exc}", retryable=True) from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if not finished:
                # Abandoned mid-response (cancelled, or the consumer stopped reading):
                # its remaining events would arrive as the next turn's.
                self._abandon()

    async def compact(
        self, template: RequestTemplate, history: History, *, instructions: str | None = None
    ) -> CompactedResponse:
        """Compaction is an HTTP endpoint; it goes over the session's HTTP client."""
        before = self._http.stats.bytes_sent
        try:
            return await self._http.compact(template, history, instructions=instructions)
        finally:
            self.stats.requests += 1
            self.stats.bytes_sent += self._http.stats.bytes_sent - before

    async def aclose(self) -> None:
        await self._discard()
        await self._http.aclose()
