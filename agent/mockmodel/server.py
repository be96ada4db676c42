"""Running the mock model: in-process for tests, in a thread for benchmarks, or as a
process from the command line.

Tests::

    async with MockModelServer(script) as srv:
        client = AsyncOpenAI(base_url=srv.url, api_key="x")
        ...
        assert srv.records[-1].cached_tokens == 1024

Synchronous code (benchmarks, a sync test)::

    with MockModelServer(script, latency=LatencyModel(ttft_ms=300)) as srv:
        ...

The server binds its socket itself (port 0 = a free port, known before serving starts) and
runs uvicorn in the caller's event loop or in a background thread. It replaces two uvicorn
behaviours that suit a long-running process but not a server started hundreds of times in
a test run: polling for shutdown every 0.1 s (it wakes at once instead) and taking over
SIGINT/SIGTERM (the command line watches those itself and stops cleanly, exit code 0).

Its HTTP and WebSocket protocols are uvicorn's with two additions: each connection tells
the application when its bytes last arrived (:class:`~agent.mockmodel.app.Arrival`, where
``server_ms`` starts), and the WebSocket compresses what it sends with a 32 KiB window
rather than uvicorn's 4 KiB. Every response repeats the request's ``tools`` array three
times (``response.created``, ``response.in_progress``, the terminal event); with a window
that reaches the previous copy, deflate finds it instead of compressing it afresh, which
costs the server a quarter to a third of the CPU (and sends a twentieth of the bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import uvicorn
from anyio.abc import TaskGroup
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol

from agent.mockmodel.app import ARRIVAL_STATE, Arrival, DroppedConnectionError, MockModelApp
from agent.mockmodel.engine import MockModel
from agent.mockmodel.faults import Fault
from agent.mockmodel.latency import LatencyModel
from agent.mockmodel.records import Record
from agent.mockmodel.scripts import Script

ScriptSource = Script | Mapping[str, Any] | Sequence[Any] | str | Path | None
"""A script, its decoded JSON/TOML, a bare list of turns, or a path to a file."""


def load_script(source: ScriptSource) -> Script:
    if source is None:
        return Script()
    if isinstance(source, Script):
        return source
    if isinstance(source, str | Path):
        return Script.load(source)
    return Script.parse(source)


class _DropFilter(logging.Filter):
    """uvicorn logs a traceback when an application raises; for the ``drop`` fault that
    is the intended way of cutting a connection, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnectionError)


_drop_filter = _DropFilter()
logging.getLogger("uvicorn.error").addFilter(_drop_filter)


class _NotingArrivals(asyncio.Protocol):
    """Keeps a connection's :class:`Arrival` up to date and hands it to the application
    in ``scope["state"]`` (uvicorn copies ``app_state`` into every scope it builds)."""

    app_state: dict[str, Any]
    arrival: Arrival

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.arrival = Arrival()
        self.app_state = {**self.app_state, ARRIVAL_STATE: self.arrival}
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.arrival.at = time.perf_counter()
        super().data_received(data)


class _HttpProtocol(_NotingArrivals, H11Protocol):
    """uvicorn's HTTP/1.1 protocol, noting when bytes arrive."""


class _WebSocketProtocol(_NotingArrivals, WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, noting when bytes arrive and compressing with a
    32 KiB window (see the module docstring)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if config.ws_per_message_deflate:
            # As uvicorn builds it, but for server_max_window_bits (None: up to 15, or
            # what the client asks for).
            deflate = ServerPerMessageDeflateFactory(client_max_window_bits=12)
            self.conn = ServerProtocol(
                extensions=[deflate], max_size=config.ws_max_size, logger=self.logger
            )


class _Uvicorn(uvicorn.Server):
    """uvicorn that stops at once when asked and leaves signal handling to its owner."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()

    def request_stop(self) -> None:
        """Thread-safe."""
        self.should_exit = True
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # in-process: signals belong to the test runner; see serve_forever

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not await self.on_tick(0):  # tick 0 refreshes the Date header
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Close listeners and connections, give running responses a short grace period
        (``timeout_graceful_shutdown``), then cancel what is left. Polls every few ms
        rather than uvicorn's 100 ms."""
        for server in getattr(self, "servers", []):
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 0)
        # uvicorn offers no event for "last connection gone"; poll it, briefly.
        while self.server_state.connections and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        for task in list(self.server_state.tasks):
            task.cancel()
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()


class MockModelServer:
    """The scripted Responses API server. See the module docstring for usage."""

    def __init__(
        self,
        script: ScriptSource = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: LatencyModel | None = None,
        faults: Sequence[Fault] = (),
        record: str | Path | None = None,
        record_bodies: bool = False,
        keep_bodies: bool = True,
        websocket: bool = True,
        ws_max_age: float = 3600.0,
        log_level: str = "warning",
        graceful_shutdown: float = 1.0,
    ) -> None:
        self.model = MockModel(
            load_script(script),
            latency=latency,
            faults=faults,
            record=record,
            record_bodies=record_bodies,
            keep_bodies=keep_bodies,
            websocket=websocket,
            ws_max_age=ws_max_age,
        )
        self.app = MockModelApp(self.model)
        self.host = host
        self.port = port
        self._log_level = log_level
        self._graceful = graceful_shutdown
        self._server: _Uvicorn | None = None
        self._task_group: TaskGroup | None = None
        self._thread: threading.Thread | None = None
        self._thread_stop: asyncio.Event | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # -- what tests read and change ----------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:40123/v1`` (give it to an SDK as
        ``base_url``)."""
        return f"http://{self._netloc}/v1"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint, ``ws://…/v1/responses``."""
        return f"ws://{self._netloc}/v1/responses"

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def records(self) -> list[Record]:
        """Every request so far, in arrival order (a copy)."""
        return self.model.records.snapshot()

    def clear_records(self) -> None:
        self.model.records.clear()

    @property
    def script(self) -> Script:
        return self.model.script

    @script.setter
    def script(self, source: ScriptSource) -> None:
        self.model.script = load_script(source)

    @property
    def latency(self) -> LatencyModel:
        return self.model.latency

    @latency.setter
    def latency(self, value: LatencyModel) -> None:
        self.model.latency = value

    def inject(self, *faults: Fault) -> None:
        """Queue faults (thread-safe)."""
        self.model.faults.add(*faults)

    # -- in the caller's event loop ----------------------------------------------------

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            log_level=self._log_level,
            access_log=False,
            proxy_headers=False,  # a loopback test server: no proxy to believe
            server_header=False,
            http=_HttpProtocol,
            ws=_WebSocketProtocol,
            ws_max_size=256 * 1024 * 1024,
            ws_per_message_deflate=True,
            timeout_graceful_shutdown=max(1, round(self._graceful)),
        )

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and
        # with Nagle on, the second event of every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        sock.set_inheritable(True)
        return sock

    async def start(self) -> None:
        """Start serving in the current event loop (prefer ``async with``)."""
        if self._server is not None:
            raise RuntimeError("the mock model server is already running")
        sock = self._bind()
        server = _Uvicorn(self._config())
        self._server = server
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(server.serve, [sock])
        while not server.started:
            if server.should_exit:
                break
            await anyio.sleep(0.001)
        if not server.started:
            await self.stop()
            raise RuntimeError("the mock model server failed to start")

    async def stop(self) -> None:
        server, group = self._server, self._task_group
        self._server = self._task_group = None
        if server is not None:
            server.request_stop()
        if group is not None:
            await group.__aexit__(None, None, None)
        self.model.records.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- in a background thread --------------------------------------------------------

    def __enter__(self) -> Self:
        self.start_in_thread()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()

    def start_in_thread(self) -> None:
        """Serve from a daemon thread with its own event loop; returns once the port is
        listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._thread_loop = asyncio.get_running_loop()
            self._thread_stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                raise
            ready.set()
            try:
                await self._thread_stop.wait()
            finally:
                await self.stop()

        def run() -> None:
            with contextlib.suppress(BaseException):
                anyio.run(main)
            ready.set()

        self._thread = threading.Thread(target=run, name="mock-model-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def stop_thread(self) -> None:
        loop, stop, thread = self._thread_loop, self._thread_stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join()
        self._thread = None

    # -- as a process ------------------------------------------------------------------

    def serve_forever(self, *, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGINT or SIGTERM, then stop cleanly (the command line).
        ``on_ready()`` is called once the port is listening."""

        async def main() -> None:
            sock = self._bind()
            server = _Uvicorn(self._config())
            self._server = server
            async with anyio.create_task_group() as tg:

                async def serve() -> None:
                    await server.serve([sock])
                    tg.cancel_scope.cancel()

                async def stop_on_signal() -> None:
                    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                        async for _ in signals:
                            server.request_stop()
                            return

                tg.start_soon(serve)
                tg.start_soon(stop_on_signal)
                # uvicorn offers no event for "listening"; poll its flag, briefly.
                while not server.started and not server.should_exit:  # noqa: ASYNC110
                    await anyio.sleep(0.005)
                if server.started and on_ready is not None:
                    on_ready()

        try:
            anyio.run(main)
        finally:
            self._server = None
            self.model.records.close()
