"""One server's life inside the hub: start it, list its tools, watch it, restart it.

Each start of a server (an *incarnation*) is one task in the hub's task group that owns the
``mcp.Client`` from entering to leaving; anyio requires a client's task group to be entered and
exited by the same task, and it means cancelling the hub stops every server the same way.
Calls from other tasks borrow the live client. The incarnation ends when the hub closes, or
when a stdio server dies; a dead server is marked *crashed* and the next call starts a new
incarnation (up to :data:`MAX_RESTARTS` times), so one crash costs one failed call.

Start-up has a deadline (``startup_timeout_sec``) that covers the handshake *and* the first
complete ``tools/list``: a server whose tools cannot be listed is of no use to the model. A
server that fails is reported with the reason and the tail of its stderr; its tools leave the
merged list.

Tool-list changes arrive as ``notifications/tools/list_changed`` on handshake-era connections
and as ``subscriptions/listen`` events on 2026-07-28 connections; both trigger a re-list.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import anyio.abc
import httpx2
from anyio.abc import TaskGroup
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult, Implementation, Tool
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agent.config import ServerConfig, Settings
from agent.hub.cache import SchemaCache, fingerprint, key_digest, same_tools
from agent.hub.elicitation import answer_elicitation
from agent.hub.spec import (
    HttpLaunch,
    InProcessLaunch,
    Launch,
    StdioLaunch,
    UnavailableError,
    resolve,
)
from agent.hub.stdio import StdioTransport
from agent.hub.validation import HubClient
from servers.common.server import package_version

logger = logging.getLogger(__name__)

Status = Literal["disabled", "waiting", "starting", "ready", "crashed", "failed", "stopped"]
MAX_PAGES = 100
"""tools/list pages followed before giving up on a server whose cursor never ends."""
MAX_RESTARTS = 5
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


class CallError(Exception):
    """A call could not produce a tool result; the message is written for the model."""


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """A snapshot for ``toolwire servers`` and the agent's status line."""

    name: str
    status: Status
    transport: str
    kind: str
    tools: int
    tools_from: Literal["cache", "live"] | None
    started_in: float | None
    """Seconds from launch to tools listed, for the last successful start."""
    restarts: int
    error: str | None
    stderr: str
    protocol: str | None
    sources: tuple[str, ...]


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def describe(exc: BaseException) -> str:
    """One line about an exception, unwrapping task-group exception groups."""
    parts = []
    for leaf in _leaves(exc):
        text = str(leaf).strip() or type(leaf).__name__
        if isinstance(leaf, httpx2.HTTPError | OSError):
            text = f"{type(leaf).__name__}: {text}"
        parts.append(text)
    return "; ".join(dict.fromkeys(parts))


class ServerConnection:
    """The hub's handle on one configured server."""

    def __init__(
        self,
        config: ServerConfig,
        settings: Settings,
        cache: SchemaCache | None,
        on_tools: Callable[[ServerConnection], None],
    ) -> None:
        self.config = config
        self.settings = settings
        self.name = config.name
        self._cache = cache
        self._on_tools = on_tools
        self.status: Status = "waiting" if config.enabled else "disabled"
        self.tools: list[Tool] | None = None
        """The tools offered to the model (filtered), from the cache or the live server."""
        self.tools_from: Literal["cache", "live"] | None = None
        self.error: str | None = None
        self.stderr = ""
        self.started_in: float | None = None
        self.restarts = 0
        self.protocol: str | None = None
        self.settled = anyio.Event()
        """Set once the first start has succeeded or failed."""
        self._launch: Launch | None = None
        self._digest: str | None = None
        self._cached_raw: list[Tool] | None = None
        self._client: Client | None = None
        self._transport: StdioTransport | None = None
        self._ready = anyio.Event()
        self._done = anyio.Event()
        """Set when the current incarnation has finished (its status is final)."""
        self._list_changed = anyio.Event()
        self._tg: TaskGroup | None = None

    # ---------------------------------------------------------------- set-up

    def prepare(self) -> None:
        """Resolve how to start the server and load its cached tools (no I/O beyond stat/read).

        Called before any server starts, so that with a warm cache the merged tool list is
        complete at once.
        """
        if not self.config.enabled:
            self.settled.set()
            return
        try:
            self._launch = resolve(self.config, self.settings.workspace)
        except UnavailableError as exc:
            self._fail(str(exc))
            return
        if self._cache is None:
            return
        key = fingerprint(self.config, self._launch)
        if key is None:
            return
        self._digest = key_digest(key)
        cached = self._cache.load(self.name, self._digest)
        if cached is not None:
            self._cached_raw = cached
            self.tools = self._allowed(cached)
            self.tools_from = "cache"

    def start(self, tg: TaskGroup) -> None:
        self._tg = tg
        if self._launch is None:
            return
        self.status = "starting"
        tg.start_soon(self._incarnation, self._ready, self._done)

    def _allowed(self, tools: Sequence[Tool]) -> list[Tool]:
        return [t for t in tools if self.config.allows(t.name)]

    # ---------------------------------------------------------------- one incarnation

    def _make_client(self, launch: Launch) -> tuple[Client, StdioTransport | None]:
        common: dict[str, Any] = {
            "mode": "auto",
            "cache": None,  # the hub caches tool lists itself, across runs
            "message_handler": self._on_message,
            "elicitation_callback": answer_elicitation,  # nobody is there to fill in a form
            "client_info": Implementation(name="toolwire", version=package_version()),
        }
        if isinstance(launch, StdioLaunch):
            transport = StdioTransport(launch)
            return HubClient(transport, **common), transport
        if isinstance(launch, InProcessLaunch):
            return HubClient(launch.factory(), **common), None
        return HubClient(_http_transport(launch), **common), None

    async def _incarnation(self, ready: anyio.Event, done: anyio.Event) -> None:
        assert self._launch is not None
        timeout = self.config.startup_timeout_sec
        began = time.perf_counter()
        live = False
        transport: StdioTransport | None = None
        try:
            client, transport = self._make_client(self._launch)
            self._transport = transport
            with anyio.CancelScope(deadline=anyio.current_time() + timeout) as deadline:
                async with client, anyio.create_task_group() as tg:
                    # Subscribe before listing, so no change can fall between the two.
                    if _streams_tool_changes(client):
                        await tg.start(self._listen, client)
                    tools = await list_all_tools(client)
                    deadline.deadline = math.inf
                    live = True
                    store = self._went_live(client, tools, time.perf_counter() - began)
                    ready.set()
                    self.settled.set()
                    if store:
                        await self._store_cache(tools)
                    tg.start_soon(self._refresh_on_change, client)
                    await self._wait_gone(transport)
                    tg.cancel_scope.cancel()
            if deadline.cancelled_caught and not live:
                self._fail(self._start_timeout_message(timeout, transport), transport)
        except anyio.get_cancelled_exc_class():
            self.status = "stopped"  # the hub is closing
            raise
        except Exception as exc:
            if live:
                logger.warning("server %s stopped: %s", self.name, describe(exc))
            else:
                self._fail(self._start_error_message(exc, transport), transport)
        finally:
            self._client = None
            if live and self.status == "ready":
                self._ended(transport)
            ready.set()
            self.settled.set()
            done.set()

    def _went_live(self, client: Client, raw: list[Tool], took: float) -> bool:
        """Publish the live client and tools; return whether the disk cache needs writing."""
        self.protocol = client.protocol_version
        self.started_in = took
        self.error = None
        self._client = client
        self.status = "ready"
        return self._accept(raw)

    def _accept(self, raw: list[Tool]) -> bool:
        """Take a live listing; tell the hub if the tools changed; True if the cache is stale."""
        stale = self._cached_raw is None or not same_tools(self._cached_raw, raw)
        old = self.tools
        self._cached_raw = raw
        self.tools = self._allowed(raw)
        self.tools_from = "live"
        if old is None or (stale and not same_tools(old, self.tools)):
            self._on_tools(self)
        return stale and self._cache is not None and self._digest is not None

    async def _store_cache(self, raw: list[Tool]) -> None:
        """Write the cache entry off the event loop; shielded, because a run as short as
        ``toolwire tools`` closes the hub right after the servers are up."""
        cache, digest = self._cache, self._digest
        if cache is not None and digest is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(cache.store, self.name, digest, raw)

    async def _wait_gone(self, transport: StdioTransport | None) -> None:
        """Until a stdio server dies; other transports live until the hub closes."""
        if transport is not None:
            await transport.gone.wait()
        else:
            await anyio.sleep_forever()

    def _ended(self, transport: StdioTransport | None) -> None:
        if transport is None:
            self.status = "stopped"
            return
        self.status = "crashed"
        self.error = f"{transport.exit_description()}; it restarts on the next call"
        self.stderr = transport.stderr_tail()
        logger.warning("server %s %s", self.name, transport.exit_description())

    async def _on_message(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self._list_changed.set()

    async def _listen(
        self, client: Client, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Follow ``subscriptions/listen`` tool-change events (2026-07-28 connections)."""
        started = False
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                task_status.started()
                started = True
                async for _event in subscription:
                    self._list_changed.set()
        except Exception as exc:  # a server that cannot stream changes still serves calls
            logger.debug("server %s: no tool-change stream: %s", self.name, describe(exc))
        finally:
            if not started:
                task_status.started()

    async def _refresh_on_change(self, client: Client) -> None:
        while True:
            await self._list_changed.wait()
            self._list_changed = anyio.Event()
            try:
                with anyio.fail_after(self.config.startup_timeout_sec):
                    tools = await list_all_tools(client)
            except Exception as exc:
                logger.warning("server %s: re-listing tools failed: %s", self.name, describe(exc))
                continue
            if self._accept(tools):
                await self._store_cache(tools)

    # ---------------------------------------------------------------- failures

    def _fail(self, message: str, transport: StdioTransport | None = None) -> None:
        self.status = "failed"
        self.error = message
        if transport is not None:
            self.stderr = transport.stderr_tail()
        had_tools = self.tools is not None
        self.tools = None
        self.tools_from = None
        self.settled.set()
        # The last words on stderr usually say why ("bwrap not found", a traceback's last line).
        said = " ".join(self.stderr.split())[-400:]
        logger.warning(
            "server %s failed: %s%s", self.name, message, f" (stderr: {said})" if said else ""
        )
        if had_tools:
            self._on_tools(self)

    def _start_timeout_message(self, timeout: float, transport: StdioTransport | None) -> str:
        text = f"did not finish starting within {timeout:g} s (startup_timeout_sec)"
        if transport is not None:
            if transport.died:
                text = f"{transport.exit_description()} while starting"
            if problem := transport.stdout_problem():
                text += f"; it {problem}"
        return text

    def _start_error_message(self, exc: BaseException, transport: StdioTransport | None) -> str:
        if transport is not None and transport.died:
            text = f"{transport.exit_description()} while starting"
            if problem := transport.stdout_problem():
                text += f"; it {problem}"
            return text
        return describe(exc)

    # ---------------------------------------------------------------- calls

    async def client(self) -> Client:
        """The live client, (re)starting the server when it is crashed or still starting."""
        while True:
            if self.status == "ready" and self._client is not None:
                transport = self._transport
                if transport is None or not transport.gone.is_set():
                    return self._client
                await self._done.wait()  # it died: let the incarnation record the crash
                continue
            if self.status == "crashed":
                self._restart()
            elif self.status in ("failed", "disabled", "stopped", "waiting"):
                reason = self.error or self.status
                raise CallError(f"server '{self.name}' is not available: {reason}")
            await self._ready.wait()

    def _restart(self) -> None:
        assert self._tg is not None
        if self.restarts >= MAX_RESTARTS:
            self.status = "failed"
            self.error = f"crashed {self.restarts + 1} times; not restarting it again"
            return
        self.restarts += 1
        self.status = "starting"
        self._ready = anyio.Event()
        self._done = anyio.Event()
        self._tg.start_soon(self._incarnation, self._ready, self._done)

    async def call(self, tool: str, arguments: dict[str, Any], seconds: float) -> CallToolResult:
        """Call ``tool``; any failure other than the tool's own becomes :class:`CallError`."""
        client = await self.client()
        transport = self._transport
        try:
            return await client.call_tool(tool, arguments, read_timeout_seconds=seconds)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise CallError(
                    f"{tool} did not finish within {seconds:g} s (tool_timeout_sec of server "
                    f"'{self.name}'); it was cancelled"
                ) from None
            if exc.code == CONNECTION_CLOSED:
                raise CallError(await self._crash_message(tool, transport)) from None
            raise CallError(f"server '{self.name}' refused the call: {exc.message}") from None
        except RuntimeError as exc:  # e.g. structured content that breaks the output schema
            raise CallError(f"server '{self.name}' returned an invalid result: {exc}") from None
        except (httpx2.HTTPError, OSError) as exc:
            raise CallError(f"server '{self.name}' could not be reached: {describe(exc)}") from None

    async def _crash_message(self, tool: str, transport: StdioTransport | None) -> str:
        if transport is None:
            return f"the connection to server '{self.name}' closed during {tool}"
        await transport.wait_exit(1.0)
        text = (
            f"server '{self.name}' {transport.exit_description()} during {tool}; "
            "it will be restarted on the next call"
        )
        if tail := transport.stderr_tail(1000):
            text += f"\nstderr:\n{tail}"
        return text

    def snapshot(self) -> ServerStatus:
        return ServerStatus(
            name=self.name,
            status=self.status,
            transport=self.config.transport,
            kind=self.config.kind,
            tools=len(self.tools or ()),
            tools_from=self.tools_from,
            started_in=self.started_in,
            restarts=self.restarts,
            error=self.error,
            stderr=self.stderr,
            protocol=self.protocol,
            sources=self.config.sources,
        )


def _streams_tool_changes(client: Client) -> bool:
    """A 2026-07-28 connection whose server offers tool-change events on a listen stream."""
    tools = client.server_capabilities.tools
    return (
        client.protocol_version in MODERN_PROTOCOL_VERSIONS
        and tools is not None
        and bool(tools.list_changed)
    )


async def list_all_tools(client: Client) -> list[Tool]:
    """Every page of ``tools/list`` (a cursor that repeats or never ends is cut off)."""
    tools: list[Tool] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor or cursor in seen:
            break
        seen.add(cursor)
    return tools


def _http_transport(launch: HttpLaunch) -> Any:
    """A streamable-HTTP (or legacy SSE) transport carrying the configured headers."""
    if launch.sse:
        return sse_client(launch.url, headers=launch.headers)
    return _StreamableHttp(launch)


class _StreamableHttp:
    """``streamable_http_client`` with our own ``httpx2`` client (for headers and auth), closed
    together with the transport."""

    def __init__(self, launch: HttpLaunch) -> None:
        self.launch = launch
        self._http: httpx2.AsyncClient | None = None
        self._inner: Any = None

    async def __aenter__(self) -> Any:
        self._http = httpx2.AsyncClient(headers=self.launch.headers, timeout=HTTP_TIMEOUT)
        await self._http.__aenter__()
        self._inner = streamable_http_client(self.launch.url, http_client=self._http)
        try:
            return await self._inner.__aenter__()
        except BaseException:
            await self._http.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc: Any) -> bool | None:
        assert self._http is not None and self._inner is not None
        try:
            result: bool | None = await self._inner.__aexit__(*exc)
        finally:
            with anyio.CancelScope(shield=True):
                await self._http.__aexit__(None, None, None)
        return result
