"""Model transports: the Responses API over HTTP+SSE or a persistent WebSocket.

``make_transport`` picks and builds one for a provider; everything else talks to the
:class:`~agent.model.base.Transport` interface and never learns which it got.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.model.base import ModelEvent, RetryEvent, Transport, TransportStats
from agent.model.errors import (
    ContextWindowExceededError,
    ModelError,
    StreamInterruptedError,
    UpgradeRefusedError,
)
from agent.model.http import HttpTransport
from agent.model.providers import PRESETS, Provider, TransportChoice, resolve_transport
from agent.model.request import History, Item, RequestTemplate, encode
from agent.model.retry import RetryPolicy
from agent.model.websocket import WebSocketTransport

__all__ = [
    "PRESETS",
    "ContextWindowExceededError",
    "History",
    "HttpTransport",
    "Item",
    "ModelError",
    "ModelEvent",
    "Provider",
    "RequestTemplate",
    "RetryEvent",
    "RetryPolicy",
    "StreamInterruptedError",
    "Transport",
    "TransportChoice",
    "TransportStats",
    "UpgradeRefusedError",
    "WebSocketTransport",
    "encode",
    "make_transport",
]


def make_transport(
    provider: Provider,
    choice: TransportChoice = "auto",
    *,
    retry: RetryPolicy | None = None,
    headers: Mapping[str, str] | None = None,
    idle_timeout: float = 300.0,
    connect_timeout: float = 15.0,
    skip_lifecycle: bool = False,
) -> Transport:
    """The session's transport for ``provider``: WebSocket when chosen (or ``auto`` and
    the provider has it), else HTTP. The WebSocket transport carries an HTTP one for
    compaction and for falling back. ``skip_lifecycle`` drops ``response.created`` /
    ``in_progress`` / ``queued`` unparsed (the agent loop has no use for them)."""
    api_key = provider.api_key()
    http = HttpTransport(
        provider.base_url,
        api_key=api_key,
        headers=headers,
        retry=retry,
        idle_timeout=idle_timeout,
        connect_timeout=connect_timeout,
        skip_lifecycle=skip_lifecycle,
    )
    if resolve_transport(choice, provider) == "http":
        return http
    return WebSocketTransport(
        provider.websocket_url(),
        http,
        api_key=api_key,
        headers=headers,
        retry=retry,
        idle_timeout=idle_timeout,
        connect_timeout=connect_timeout,
        skip_lifecycle=skip_lifecycle,
    )
