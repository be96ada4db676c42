"""``tools/call`` on a 2026-07-28 stdio connection, served without the SDK's message plumbing.

Between the pipe and a tool, the SDK's stdio path parses every line into pydantic JSON-RPC
models, passes it through two memory streams (the transport's, and the relay that replays a
modern connection's opening request), has its ``JSONRPCDispatcher`` spawn the handler, and
sends the reply back as a ``JSONRPCResponse`` model through another stream to be dumped. For a
search that returns a 100-match page (20 KB) that costs the server 0.6-1.1 ms per call,
measured on a 2-core machine, against 0.25-0.55 ms for the request handling proper.

A modern request carries its whole context in its ``_meta`` envelope, so nothing connects it
to the messages before it. :class:`ToolCallLane` therefore serves it straight from the line:
``json.loads``, then the very functions the SDK's modern stream loop calls for it
(``classify_inbound_request``, ``Connection.from_envelope``, ``serve_one``, and the same
exception-to-error mapping), so middleware, OpenTelemetry, argument and result validation and
the result's wire shape are the SDK's own. What it replaces is the dispatcher's bookkeeping
for that one request: a task, a cancel scope the client's ``notifications/cancelled`` reaches,
progress and log notifications on the pipe, and one answer (or none, once cancelled). A call
to a plain tool skips ``serve_one`` as well (:mod:`servers.common.directcall` says when).

Everything else, and any ``tools/call`` line that is not plainly well formed, goes to the SDK
as before: the lane takes a line only once the connection's era is known to be modern (the
client's first request decides it, as in ``serve_dual_era_loop``). The SDK names used here are
internal to ``mcp`` 2.3, which the project pins; ``tests/common/test_fastcall.py`` compares the
lane's answers with the SDK path's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import mcp_types
from anyio.abc import TaskGroup
from mcp.server.connection import Connection, NotifyOnlyOutbound
from mcp.server.lowlevel import Server
from mcp.server.runner import modern_error_data, serve_one
from mcp.shared.dispatcher import CallOptions, as_request_id, coerce_request_id
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.shared.inbound import InboundLadderRejection, classify_inbound_request
from mcp.shared.jsonrpc_dispatcher import (
    cancelled_request_id_from_params,
    handler_exception_to_error_data,
    progress_token_from_params,
)
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    CONNECTION_CLOSED,
    PROTOCOL_VERSION_META_KEY,
    ErrorData,
    JSONRPCError,
    RequestId,
)
from pydantic import ValidationError
from pydantic_core import to_json

from servers.common.directcall import DirectTools

logger = logging.getLogger(__name__)

SendLine = Callable[[bytes], Awaitable[None]]
"""Writes one complete message line (newline included) to the client."""

METHOD = "tools/call"
_CALL_MARK = b'"tools/call"'
_CANCEL_MARK = b'"notifications/cancelled"'
_REQUEST_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_SHUTDOWN_WRITE_TIMEOUT = 1.0
"""How long a call cut short by the end of the session may take to say so (the SDK's bound)."""
_TRANSPORT = TransportContext(kind="jsonrpc", can_send_request=False)
"""A modern connection never carries server-initiated requests (the SDK masks the flag so)."""


def opens_modern(message: mcp_types.JSONRPCMessage) -> bool | None:
    """For the client's first request: whether it opens a 2026-07-28 connection, by the rule
    ``serve_dual_era_loop`` applies; None for a message that is not a request."""
    if not isinstance(message, mcp_types.JSONRPCRequest):
        return None
    meta = (message.params or {}).get("_meta")
    return (
        message.method != "initialize"
        and isinstance(meta, Mapping)
        and (PROTOCOL_VERSION_META_KEY in meta)
    )


@dataclass(eq=False)
class _CallContext:
    """The SDK's ``DispatchContext`` for one call on the lane: notifications and progress go
    out on the pipe tagged with nothing (stdio has one stream), requests to the client are
    refused as the modern protocol requires."""

    lane: ToolCallLane
    request_id: RequestId
    progress_token: str | int | None
    message_metadata: None = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    closed: bool = False

    @property
    def transport(self) -> TransportContext:
        return _TRANSPORT

    @property
    def can_send_request(self) -> bool:
        return False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        if self.closed:
            logger.debug("dropped %s: the call has ended", method)
            return
        await self.lane.notify(method, params, opts)

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.notify("notifications/progress", params)


@dataclass(eq=False)
class _InFlight:
    scope: anyio.CancelScope
    context: _CallContext


class ToolCallLane:
    """Serves the modern ``tools/call`` lines it :meth:`take` s; see the module docstring.

    ``send_line`` writes a whole line to the client (the transport serialises it with its
    own writes); handlers run in ``task_group`` and must never raise out of it.
    """

    def __init__(
        self,
        server: Server[Any],
        lifespan_state: Any,
        send_line: SendLine,
        task_group: TaskGroup,
        direct: DirectTools | None = None,
    ) -> None:
        self._server = server
        self._direct = direct
        self._lifespan_state = lifespan_state
        self._send_line = send_line
        self._task_group = task_group
        self._outbound = NotifyOnlyOutbound(self)
        self._in_flight: dict[RequestId, _InFlight] = {}
        self._closing = False
        self.era: Literal["modern", "legacy"] | None = None
        """Decided by the client's first request (:meth:`observe`); the lane serves only
        ``modern``."""

    # ------------------------------------------------------------------ reading

    def observe(self, message: mcp_types.JSONRPCMessage) -> None:
        """Note a message the SDK path parsed, until the first request decides the era."""
        if self.era is None and (modern := opens_modern(message)) is not None:
            self.era = "modern" if modern else "legacy"

    def take(self, line: bytes) -> bool:
        """Serve ``line`` if it is a modern ``tools/call`` request; False leaves it to the SDK.

        A ``notifications/cancelled`` naming a call on the lane cancels it, and is still
        handed on (the SDK tees every cancellation to its notification handlers too).
        """
        if self.era != "modern" or self._closing:
            return False
        if _CALL_MARK in line:
            return self._start(line)
        if _CANCEL_MARK in line:
            self._cancel(line)
        return False

    def _start(self, line: bytes) -> bool:
        try:
            message = json.loads(line)
        except ValueError:
            return False
        if not (
            isinstance(message, dict)
            and message.keys() == _REQUEST_KEYS
            and message["jsonrpc"] == "2.0"
            and message["method"] == METHOD
            and isinstance(params := message["params"], dict)
            and isinstance(meta := params.get("_meta"), dict)
            and PROTOCOL_VERSION_META_KEY in meta
            and (request_id := as_request_id(message["id"])) is not None
        ):
            return False
        context = _CallContext(self, request_id, progress_token_from_params(params))
        scope = anyio.CancelScope()
        # A reused id replaces the entry, as in the SDK (the older call can no longer be
        # cancelled by id).
        self._in_flight[coerce_request_id(request_id)] = _InFlight(scope, context)
        self._task_group.start_soon(self._serve, request_id, params, context, scope)
        return True

    def _cancel(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("method") != "notifications/cancelled":
            return
        params = message.get("params")
        request_id = cancelled_request_id_from_params(params if isinstance(params, dict) else None)
        if request_id is None:
            return
        if (entry := self._in_flight.get(coerce_request_id(request_id))) is not None:
            entry.context.cancel_requested.set()
            entry.scope.cancel()

    # ------------------------------------------------------------------ serving

    async def _serve(
        self,
        request_id: RequestId,
        params: dict[str, Any],
        context: _CallContext,
        scope: anyio.CancelScope,
    ) -> None:
        """Run one call and write its answer: the result, the error, nothing if the client
        cancelled it, or "connection closed" if the session ended under it."""
        answer: bytes | None = None
        try:
            with scope:
                try:
                    result = await self._handle(context, params)
                    answer = to_json({"jsonrpc": "2.0", "id": request_id, "result": result}) + b"\n"
                except Exception as exc:
                    answer = _error_line(request_id, _wire_error(exc))
                finally:
                    context.closed = True
                    key = coerce_request_id(request_id)
                    entry = self._in_flight.get(key)
                    if entry is not None and entry.context is context:
                        del self._in_flight[key]
        except anyio.get_cancelled_exc_class():  # the server itself is being cancelled
            if answer is None and not context.cancel_requested.is_set():
                await self._closed_under(request_id)
            raise
        if context.cancel_requested.is_set():
            return  # the client withdrew the request: it must not be answered
        if answer is None:  # the session ended under the call
            await self._closed_under(request_id)
        else:
            await self._write(answer)

    async def _closed_under(self, request_id: RequestId) -> None:
        closed = ErrorData(code=CONNECTION_CLOSED, message="Connection closed")
        with anyio.move_on_after(_SHUTDOWN_WRITE_TIMEOUT, shield=True):
            await self._write(_error_line(request_id, closed))

    async def _handle(self, context: _CallContext, params: dict[str, Any]) -> dict[str, Any]:
        """What the SDK's modern stream loop does for a request (``_serve_modern_stream``), or,
        for a plain tool, :class:`~servers.common.directcall.DirectTools`."""
        route = classify_inbound_request({"method": METHOD, "params": params})
        if isinstance(route, InboundLadderRejection):
            raise MCPError(code=route.code, message=route.message, data=route.data)
        if self._direct is not None and self._direct.takes(params, route.protocol_version):
            return await self._direct.call(params)
        connection = Connection.from_envelope(
            route.protocol_version,
            route.client_info,
            route.client_capabilities,
            outbound=self._outbound,
        )
        try:
            return await serve_one(
                self._server,
                context,
                METHOD,
                params,
                connection=connection,
                lifespan_state=self._lifespan_state,
            )
        except (MCPError, ValidationError):
            raise
        except Exception as exc:
            error = modern_error_data(exc)
            raise MCPError(code=error.code, message=error.message, data=error.data) from exc

    # ------------------------------------------------------------------ writing

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        """Send a notification (the connection's ``Outbound``, and each call's)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = dict(params)
        await self._write(to_json(message) + b"\n")

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def _write(self, line: bytes) -> None:
        try:
            await self._send_line(line)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            logger.debug("dropped a message: the client is gone")

    def close(self) -> None:
        """The session is over: take no more lines, and end the calls still running (each
        tells the client the connection closed, as the SDK's dispatcher does)."""
        self._closing = True
        for entry in list(self._in_flight.values()):
            entry.scope.cancel()


def _wire_error(exc: Exception) -> ErrorData:
    """The JSON-RPC error for a failed call, as the SDK's dispatcher maps it."""
    error = handler_exception_to_error_data(exc)
    if error is None:
        logger.exception("handler for %r raised", METHOD)
        error = ErrorData(code=0, message=str(exc))
    return error


def _error_line(request_id: RequestId, error: ErrorData) -> bytes:
    message = JSONRPCError(jsonrpc="2.0", id=request_id, error=error)
    return message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"


__all__ = ["SendLine", "ToolCallLane", "opens_modern"]
