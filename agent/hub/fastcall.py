"""``tools/call`` to a stdio server without the SDK's per-request message plumbing.

Below ``ClientSession``, the SDK's ``JSONRPCDispatcher`` sends a request as a pydantic
``JSONRPCRequest`` through a memory stream to the transport's stdin pump, which dumps it to
JSON; the transport parses every line of the answer into pydantic ``JSONRPCMessage`` models
(0.15-0.3 ms for a 20 KB result) and hands it through another memory stream to the
dispatcher's receive loop, which wakes the caller through a third. Against the search server on
a 2-core machine, the hub's client spent 0.73-0.77 ms of CPU on a ``find_files`` call (4 KB
result) and 1.13-1.21 ms on a ``grep`` (20 KB) that way; this path takes 0.53-0.54 and
0.79-0.88 ms.

:class:`FastToolCalls` wraps the session's dispatcher and takes one method, ``tools/call`` on
an :class:`~agent.hub.stdio.StdioTransport`, a shorter way: the request is encoded once and
written as a line (:meth:`StdioTransport.send_line`), and its response is picked off stdout as a
plain JSON object (:meth:`StdioTransport.expect_reply`) and returned as the dict the session
expects. Everything that makes the call an MCP call stays in the SDK, because it lives above
the dispatcher: the ``_meta`` stamps, the result's validation, output-schema checks,
input_required and claimed results. What the dispatcher does for the request is done here the
same way, mostly with its own parts: ids from its counter, its OpenTelemetry span and trace
context, its request clock, the courtesy ``notifications/cancelled`` on timeout or cancellation,
and ``CONNECTION_CLOSED`` when the connection ends. Any other method, and a call with options
beyond a timeout (progress, a chosen id, resumption), goes to the SDK's dispatcher unchanged.

The names used from ``mcp.shared.jsonrpc_dispatcher`` are internal to ``mcp`` 2.3, which the
project pins; ``tests/hub/test_fastcall.py`` compares this path with the SDK's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel
from mcp.shared._otel import inject_trace_context, otel_span
from mcp.shared._request_clock import request_clock
from mcp.shared.dispatcher import (
    CallOptions,
    Dispatcher,
    OnNotify,
    OnNotifyIntercept,
    OnRequest,
)
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import _ABANDON_WRITE_TIMEOUT, JSONRPCDispatcher
from mcp.shared.transport_context import TransportContext
from mcp_types import CONNECTION_CLOSED, INTERNAL_ERROR, REQUEST_TIMEOUT, ErrorData
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import ValidationError
from pydantic_core import to_json

from agent.hub.stdio import StdioTransport

METHOD = "tools/call"
_LEAN_OPTIONS = frozenset({"timeout", "headers"})
"""Call options the lean path honours; ``headers`` only matter to HTTP transports."""
StreamExceptionObserver = Callable[[Exception], Awaitable[None]]
_CLOSED = ErrorData(code=CONNECTION_CLOSED, message="Connection closed")
"""The outcome when the connection ends first; matched by identity, as the SDK does."""


class FastToolCalls(Dispatcher[TransportContext]):
    """The session's ``JSONRPCDispatcher``, with ``tools/call`` over stdio taken the short way."""

    def __init__(self, inner: JSONRPCDispatcher[Any], transport: StdioTransport) -> None:
        self._inner = inner
        self._transport = transport
        self.lean_calls = 0
        """How many calls took the lean path (the tests check that they do)."""

    @property
    def on_stream_exception(self) -> StreamExceptionObserver | None:
        return self._inner.on_stream_exception

    @on_stream_exception.setter
    def on_stream_exception(self, observer: StreamExceptionObserver | None) -> None:
        self._inner.on_stream_exception = observer

    def __getattr__(self, name: str) -> Any:
        """Anything else the SDK may read off its dispatcher."""
        return getattr(self._inner, name)

    async def run(
        self,
        on_request: OnRequest,
        on_notify: OnNotify,
        on_notify_intercept: OnNotifyIntercept | None = None,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            await self._inner.run(
                on_request, on_notify, on_notify_intercept, task_status=task_status
            )
        finally:
            # Where the dispatcher fails its own waiters (_fan_out_closed), ours fail too.
            self._transport.end_replies()

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        await self._inner.notify(method, params, opts)

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        inner = self._inner
        if (
            method == METHOD
            and inner._running
            and not inner._closed
            and self._transport.takes_replies
            and (not opts or _LEAN_OPTIONS.issuperset(opts))
        ):
            return await self._lean(method, params, opts or {})
        chosen = opts.get("request_id") if opts else None
        if chosen is not None and self._transport.awaits_reply(chosen):
            # The SDK refuses an id among its own requests in flight; ours are among them.
            raise ValueError(f"request id {chosen!r} is already in flight")
        return await inner.send_raw_request(method, params, opts)

    async def _lean(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions
    ) -> dict[str, Any]:
        """``JSONRPCDispatcher.send_raw_request`` for a request without call options but a
        timeout, step for step; only the message's way to and from the pipe differs."""
        inner = self._inner
        transport = self._transport
        request_id = inner._allocate_id()
        while request_id in inner._pending:
            request_id = inner._allocate_id()
        out_params = dict(params) if params is not None else {}
        out_meta = dict(out_params.get("_meta") or {})
        reply = transport.expect_reply(request_id)
        self.lean_calls += 1
        request_write_started = False
        timeout_armed = False
        target = out_params.get("name")
        span_name = f"MCP send {method}{f' {target}' if isinstance(target, str) else ''}"
        try:
            with otel_span(
                span_name,
                kind=SpanKind.CLIENT,
                attributes={"mcp.method.name": method, "jsonrpc.request.id": str(request_id)},
            ) as span:
                inject_trace_context(out_meta)
                if out_meta:
                    out_params["_meta"] = out_meta
                else:
                    out_params.pop("_meta", None)
                request: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
                if out_params:
                    request["params"] = out_params
                # The bytes ``JSONRPCRequest.model_dump_json(exclude_unset=True)`` produces.
                line = to_json(request) + b"\n"
                await anyio.lowlevel.checkpoint_if_cancelled()
                request_write_started = True
                with request_clock(opts.get("timeout")) as clock:
                    try:
                        await transport.send_line(line)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        raise MCPError(code=CONNECTION_CLOSED, message=_CLOSED.message) from None
                    clock.start()
                    timeout_armed = True
                    outcome = _outcome(await reply.wait())
                if isinstance(outcome, ErrorData) and outcome is not _CLOSED:
                    code = str(outcome.code)
                    span.set_attributes({"error.type": code, "rpc.response.status_code": code})
                    span.set_status(StatusCode.ERROR, outcome.message)
        except TimeoutError:
            if not timeout_armed:
                raise
            reason = f"timed out after {opts.get('timeout')}s"
            await inner._final_write(
                partial(inner._cancel_outbound, request_id, reason, None),
                shield=False,
                timeout=_ABANDON_WRITE_TIMEOUT,
                describe=f"courtesy cancel for timed-out request {request_id!r}",
            )
            raise MCPError(code=REQUEST_TIMEOUT, message=f"Request {method!r} timed out") from None
        except anyio.get_cancelled_exc_class():
            if request_write_started:
                await inner._final_write(
                    partial(inner._cancel_outbound, request_id, "caller cancelled", None),
                    shield=True,
                    timeout=_ABANDON_WRITE_TIMEOUT,
                    describe=f"courtesy cancel for caller-cancelled request {request_id!r}",
                )
            raise
        finally:
            transport.forget_reply(request_id)

        if isinstance(outcome, ErrorData):
            raise MCPError(code=outcome.code, message=outcome.message, data=outcome.data)
        return outcome


def _outcome(message: dict[str, Any] | None) -> dict[str, Any] | ErrorData:
    """The result dict or the error of a response object (None: the connection closed).

    A response the SDK could not parse would leave its request waiting for the timeout; here it
    fails the call at once, saying what was wrong with it."""
    if message is None:
        return _CLOSED
    if message.get("jsonrpc") != "2.0":
        return _malformed("its jsonrpc member is not '2.0'")
    if "error" in message:
        if "result" in message:
            return _malformed("it has both a result and an error")
        try:
            return ErrorData.model_validate(message["error"], by_name=False)
        except ValidationError:
            return _malformed("its error is not an object with an integer code and a message")
    result = message["result"]
    if type(result) is not dict:
        return _malformed("its result is not an object")
    return cast("dict[str, Any]", result)


def _malformed(why: str) -> ErrorData:
    return ErrorData(
        code=INTERNAL_ERROR, message=f"the server sent a malformed response to {METHOD}: {why}"
    )


__all__ = ["FastToolCalls"]
