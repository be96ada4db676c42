"""Resource subscriptions in both MCP eras, behind one ``publish(uri)``.

Handshake-era clients (2025-06-18, 2025-11-25) call ``resources/subscribe`` and expect
``notifications/resources/updated`` on their session; 2026-07-28 clients open a
``subscriptions/listen`` stream with a filter. ``MCPServer`` serves only the second by default
and does not advertise ``subscribe`` for the first, so this module registers the legacy handlers
and tracks which URIs anyone is interested in, so a server can watch only what is watched.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.subscriptions import ResourceUpdated

logger = logging.getLogger(__name__)


class ResourceSubscriptions:
    """Who wants to hear about which resource URI, and the one way to tell them.

    Create it before the server (``MCPServer(subscriptions=subs.bus)``), then call
    :meth:`install` on the server.
    """

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        # URI -> connection -> a session proxy on it. ``ctx.session`` is a new object for every
        # request, so the connection (not the proxy) is what identifies a subscriber.
        self._legacy: dict[str, dict[object, ServerSession]] = {}
        self._tracked: set[object] = set()
        self._listen_interest: Counter[str] = Counter()
        self._changed = anyio.Event()

    def install(self, server: MCPServer) -> None:
        low = server._lowlevel_server  # the SDK exposes handler registration only there
        low.add_request_handler(
            "resources/subscribe", types.SubscribeRequestParams, self._subscribe
        )
        low.add_request_handler(
            "resources/unsubscribe", types.UnsubscribeRequestParams, self._unsubscribe
        )
        low.add_request_handler(
            "subscriptions/listen",
            types.SubscriptionsListenRequestParams,
            _TrackingListenHandler(self),
        )

    @property
    def interest(self) -> frozenset[str]:
        """Every URI someone is subscribed to right now, in either era."""
        legacy = {uri for uri, sessions in self._legacy.items() if sessions}
        return frozenset(legacy | {uri for uri, n in self._listen_interest.items() if n > 0})

    def next_change(self) -> anyio.Event:
        """An event set at the next change of :attr:`interest`. Take it *before* reading
        :attr:`interest`, so a change in between is not missed."""
        return self._changed

    def _bump(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def publish(self, uri: str) -> None:
        """Notify every subscriber of ``uri`` (a closed session is dropped, never raised)."""
        await self.bus.publish(ResourceUpdated(uri=uri))
        for key, session in list(self._legacy.get(uri, {}).items()):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # a client that went away must not break the publisher
                logger.debug("dropping closed subscriber of %s", uri, exc_info=True)
                self._legacy[uri].pop(key, None)
                self._bump()

    async def _subscribe(self, ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        key = _connection_of(ctx.session)
        if key not in self._tracked:
            # Forget a connection's subscriptions when it closes, not at the next failed send.
            stack = getattr(key, "exit_stack", None)
            if stack is not None:
                stack.callback(self._forget, key)
            self._tracked.add(key)
        self._legacy.setdefault(str(params.uri), {})[key] = ctx.session
        self._bump()
        return types.EmptyResult()

    async def _unsubscribe(
        self, ctx: Any, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        self._legacy.get(str(params.uri), {}).pop(_connection_of(ctx.session), None)
        self._bump()
        return types.EmptyResult()

    def _forget(self, key: object) -> None:
        self._tracked.discard(key)
        for subscribers in self._legacy.values():
            subscribers.pop(key, None)
        self._bump()

    def _listen_started(self, uris: list[str]) -> None:
        self._listen_interest.update(uris)
        self._bump()

    def _listen_ended(self, uris: list[str]) -> None:
        self._listen_interest.subtract(uris)
        self._bump()


def _connection_of(session: ServerSession) -> object:
    """The connection a request arrived on (the SDK keeps it private on the session proxy)."""
    connection: object = getattr(session, "_connection", session)
    return connection


class _TrackingListenHandler(ListenHandler):
    """The SDK's listen handler, plus bookkeeping of which URIs the stream asked for."""

    def __init__(self, owner: ResourceSubscriptions) -> None:
        super().__init__(owner.bus)
        self._owner = owner

    async def __call__(
        self, ctx: Any, params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        uris = list(params.notifications.resource_subscriptions or ())
        self._owner._listen_started(uris)
        try:
            return await super().__call__(ctx, params)
        finally:
            self._owner._listen_ended(uris)
