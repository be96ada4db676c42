"""The ASGI application: HTTP+SSE and the WebSocket mode of the Responses API on one port.

Routes:

- ``POST /v1/responses`` — a JSON response, or with ``"stream": true`` an SSE stream of
  ``event: <type>`` / ``data: <json>`` pairs (no ``[DONE]`` sentinel: the Responses API
  ends with its terminal event);
- ``GET /v1/responses`` upgraded to a WebSocket — ``response.create`` frames in, the same
  events out, one JSON object per text frame, one response at a time per connection;
- ``POST /v1/responses/compact``.

Written against raw ASGI rather than a framework's request objects: three routes do not
need routing machinery, and the per-request cost of the server is part of what a benchmark
subtracts, so it should be small and honest. Everything that decides *what* to answer is in
:mod:`agent.mockmodel.engine`; this module decides *how* and *when* to put it on the wire,
and applies the transport faults (drops, closes, slowness).

**What ``server_ms`` covers.** A request's clock starts when its last bytes arrived — the
chunk that completed the HTTP body, or the one that completed the WebSocket frame — as the
ASGI server reports through ``scope["state"][ARRIVAL_STATE]`` (:class:`Arrival`; our uvicorn
protocols in :mod:`agent.mockmodel.server` do). So it includes the server's HTTP or frame
parsing of that chunk (and of everything that arrived earlier in it), the scheduling of the
handler, parsing, validation, planning, the latency model's waits, encoding, framing and
compression, and stops when the handler returns: after the last byte of the answer (the
end of the body, the last frame, the close) was handed to the transport. It excludes the
work on chunks that arrived earlier (request headers apart from the body, the WebSocket
handshake) and the record's JSON line, written just after. Under an ASGI server that does
not report arrivals, the clock starts when the handler first runs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any, Literal

import anyio

from agent.mockmodel import errors
from agent.mockmodel.conversation import Conversation
from agent.mockmodel.engine import MockModel, Plan
from agent.mockmodel.errors import ApiError
from agent.mockmodel.events import Event
from agent.mockmodel.faults import Fault
from agent.mockmodel.jsontext import dumps
from agent.mockmodel.records import Record
from agent.mockmodel.validation import CreateRequest, validate_create

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_ENDPOINTS: dict[str, Literal["responses", "compact"]] = {
    "/v1/responses": "responses",
    "/v1/responses/compact": "compact",
}
_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]

Outcome = Literal["done", "cut", "disconnected"]

ARRIVAL_STATE = "toolwire.arrival"
"""Key of a connection's :class:`Arrival` in ``scope["state"]``."""


class Arrival:
    """When bytes last arrived on a connection (``perf_counter()``), kept up to date by the
    ASGI server's protocol and read by the handler once it has the whole request: where
    the request's ``server_ms`` starts."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = perf_counter()


def _arrival(scope: Scope) -> Arrival | None:
    arrival = (scope.get("state") or {}).get(ARRIVAL_STATE)
    return arrival if isinstance(arrival, Arrival) else None


def _request_start(arrival: Arrival | None) -> float:
    """When the request just read became available (now, if the server does not say)."""
    now = perf_counter()
    return min(arrival.at, now) if arrival is not None else now


class DroppedConnectionError(Exception):
    """Raised out of the application so that the ASGI server closes the TCP connection
    without finishing the response: the ``drop`` fault. (uvicorn reacts to an exception
    after the response started by closing the transport; the log line it would write is
    filtered out by :mod:`agent.mockmodel.server`.)"""


class _Tracked:
    """One request's record while it is being answered.

    :meth:`publish` adds the record to ``records``; every path calls it just before the
    write that lets the client see the end of its answer (the terminal event, the error
    body, the close frame), so a client that reads ``records`` right after its request
    returned always finds it, even when the server runs in another thread. :meth:`finish`
    runs when the handler returns, after the last byte was handed to the transport: it
    stamps the final ``server_ms`` and writes the JSON line. (A reader in another thread
    or process may thus see the record a moment before ``server_ms`` is final; one in the
    server's own event loop never does, as nothing else runs in between.) Both are
    idempotent; the handler's ``finally`` finishes whatever is left (a client that went
    away, a dropped connection).
    """

    __slots__ = ("finished", "model", "published", "record", "start")

    def __init__(self, model: MockModel, record: Record, start: float) -> None:
        self.model = model
        self.record = record
        self.start = start
        self.published = False
        self.finished = False

    def elapsed_ms(self) -> float:
        return (perf_counter() - self.start) * 1000

    def publish(self) -> None:
        if not self.published:
            self.published = True
            self.record.server_ms = self.elapsed_ms()
            self.model.records.append(self.record)

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.publish()
            self.record.server_ms = self.elapsed_ms()
            self.model.records.write(self.record)


def _sse(plan: Plan, event: Event) -> bytes:
    return f"event: {event['type']}\ndata: {plan.event_json(event)}\n\n".encode()


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _fault_error(fault: Fault) -> ApiError | None:
    if fault.kind == "rate_limit":
        return errors.rate_limited(fault.retry_after)
    if fault.kind == "server_error":
        return errors.server_error(fault.status)
    if fault.kind == "connection_limit":
        return errors.connection_limit_reached()
    return None


def _fill_record(record: Record, req: CreateRequest) -> None:
    record.model = req.model
    record.item_count = len(req.items)
    record.tool_count = len(req.tools)
    record.previous_response_id = req.previous_response_id
    record.prompt_cache_key = req.prompt_cache_key
    record.generate = req.generate
    record.stream = req.stream


def _ws_error_from_stream(event: Event) -> Event:
    """A scripted stream ``error`` event in the WebSocket's nested shape."""
    nested: Event = {
        "type": "error",
        "status": 500,
        "error": {
            "type": "server_error",
            "code": event.get("code"),
            "message": event.get("message"),
            "param": event.get("param"),
        },
        "sequence_number": event["sequence_number"],
    }
    if "stream_id" in event:
        nested["stream_id"] = event["stream_id"]
    return nested


async def _pump(
    plan: Plan,
    fault: Fault | None,
    send_batch: Callable[[list[Event], bool], Awaitable[None]],
    tracked: _Tracked,
) -> Outcome:
    """Send the plan's events on schedule, everything that is due in one batch; the last
    batch of a complete response is flagged so the caller can publish the record first. A
    ``drop``/``ws_close`` fault stops after ``after_events`` events ("cut"); ``slow`` adds
    its delay before every event."""
    events, times, record = plan.events, plan.times_ms, tracked.record
    cut = fault is not None and fault.kind in ("drop", "ws_close")
    limit = min(len(events), fault.after_events) if cut and fault is not None else len(events)
    extra = fault.delay_ms if fault is not None and fault.kind == "slow" else 0.0
    record.simulated_ms = times[limit - 1] + extra * limit if limit else 0.0
    index = 0
    while index < limit:
        wait_ms = times[index] + extra * (index + 1) - tracked.elapsed_ms()
        if wait_ms > 0:
            await anyio.sleep(wait_ms / 1000)
        now_ms = tracked.elapsed_ms()
        end = index + 1
        while end < limit and times[end] + extra * (end + 1) <= now_ms:
            end += 1
        record.events = end
        await send_batch(events[index:end], end == limit and not cut)
        index = end
    return "cut" if cut else "done"


async def _pump_watching(
    receive: Receive,
    plan: Plan,
    fault: Fault | None,
    send_batch: Callable[[list[Event], bool], Awaitable[None]],
    tracked: _Tracked,
) -> Outcome:
    """:func:`_pump` for HTTP, stopped early if the client goes away while the latency
    model makes it wait (otherwise a slow stream would outlive its client)."""
    waits = any(plan.times_ms) or (fault is not None and fault.kind == "slow")
    if not waits:
        return await _pump(plan, fault, send_batch, tracked)
    outcome: Outcome = "disconnected"
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        outcome = await _pump(plan, fault, send_batch, tracked)
        tg.cancel_scope.cancel()
    return outcome


class MockModelApp:
    """ASGI entry point over a :class:`MockModel`."""

    def __init__(self, model: MockModel) -> None:
        self.model = model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    # -- HTTP --------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started_at = time.time()
        method: str = scope["method"]
        path: str = scope["path"]
        endpoint = _ENDPOINTS.get(path)
        if endpoint is None:
            await _send_json(send, 404, dumps(errors.not_found(method, path).body()))
            return
        if method != "POST":
            error = errors.method_not_allowed(method, path)
            await _send_json(send, 405, dumps(error.body()), headers={"allow": "POST"})
            return

        raw = await _read_body(receive)
        start = _request_start(_arrival(scope))
        model = self.model
        seq = model.next_request()
        record = Record(
            seq=seq,
            transport="http",
            endpoint=endpoint,
            started_at=started_at,
            bytes_received=len(raw),
        )
        fault = model.faults.take(seq, "http")
        record.fault = fault.kind if fault is not None else None
        tracked = _Tracked(model, record, start)
        try:
            try:
                fault_error = _fault_error(fault) if fault is not None else None
                if fault_error is not None:
                    raise fault_error
                parsed = model.memo.parse(raw)
                record.body = parsed.data if model.keep_bodies else None
                req = validate_create(parsed, transport="http")
                _fill_record(record, req)
                previous = model.resolve_previous(req.previous_response_id)
                if endpoint == "compact":
                    result, delay_ms = model.compact(req, previous, record)
                    await self._http_compact(send, result, delay_ms, fault, tracked)
                else:
                    plan = model.plan(req, previous, record)
                    if req.stream:
                        await self._http_stream(receive, send, plan, fault, tracked)
                    else:
                        await self._http_json(send, plan, fault, tracked)
            except ApiError as exc:
                record.status = "error"
                record.http_status = exc.status
                record.error_code = exc.code
                await _send_json(send, exc.status, dumps(exc.body()), tracked, exc.headers)
        finally:
            tracked.finish()

    def _headers(self, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        return [*extra, (b"x-request-id", self.model.ids.new("req").encode())]

    async def _http_stream(
        self, receive: Receive, send: Send, plan: Plan, fault: Fault | None, tracked: _Tracked
    ) -> None:
        record = tracked.record
        started = ended = False

        async def start_response() -> None:
            nonlocal started
            started = True
            headers = self._headers(*_SSE_HEADERS)
            await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def send_batch(events: list[Event], final: bool) -> None:
            nonlocal ended
            if not started:
                await start_response()
            chunk = b"".join([_sse(plan, event) for event in events])
            record.bytes_sent += len(chunk)
            if final:
                record.status = plan.status
                tracked.publish()
                ended = True  # the last events end the body: one write fewer
            await send({"type": "http.response.body", "body": chunk, "more_body": not final})

        outcome = await _pump_watching(receive, plan, fault, send_batch, tracked)
        if outcome == "disconnected":
            record.status = "disconnected"
            return
        if outcome == "cut":
            if not started:
                await start_response()
            record.status = "dropped"
            raise DroppedConnectionError
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _http_json(
        self, send: Send, plan: Plan, fault: Fault | None, tracked: _Tracked
    ) -> None:
        record = tracked.record
        delay_ms = plan.times_ms[-1] if plan.times_ms else 0.0
        if fault is not None and fault.kind == "slow":
            delay_ms += fault.delay_ms
        record.simulated_ms = delay_ms
        await _sleep_until(tracked, delay_ms)
        if fault is not None and fault.kind == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": [_JSON]})
            record.status = "dropped"
            raise DroppedConnectionError
        if plan.status == "error":
            error = ApiError(
                500,
                plan.final["error"]["message"],
                type="server_error",
                code=plan.final["error"]["code"],
            )
            record.status, record.http_status, record.error_code = "error", 500, error.code
            await _send_json(send, 500, dumps(error.body()), tracked)
            return
        record.status = plan.status
        await _send_json(send, 200, plan.response_json(plan.final), tracked, self._headers())

    async def _http_compact(
        self,
        send: Send,
        result: dict[str, Any],
        delay_ms: float,
        fault: Fault | None,
        tracked: _Tracked,
    ) -> None:
        record = tracked.record
        if fault is not None and fault.kind == "slow":
            delay_ms += fault.delay_ms
        record.simulated_ms = delay_ms
        await _sleep_until(tracked, delay_ms)
        if fault is not None and fault.kind == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": [_JSON]})
            record.status = "dropped"
            raise DroppedConnectionError
        record.status = "completed"
        await _send_json(send, 200, dumps(result), tracked, self._headers())

    # -- WebSocket ---------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = self.model
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if scope["path"] != "/v1/responses":
            await _deny(send, 404, dumps(errors.not_found("GET", scope["path"]).body()))
            return
        if not model.websocket:
            error = ApiError(
                426, "WebSocket mode is not available on this server.", code="upgrade_required"
            )
            await _deny(send, 426, dumps(error.body()))
            return
        await send({"type": "websocket.accept"})
        connection = _WsConnection(model.next_connection(), time.monotonic())
        arrival = _arrival(scope)
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message["type"] != "websocket.receive":
                continue
            start = _request_start(arrival)
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            try:
                keep_open = await self._ws_frame(send, connection, data, start)
            except OSError:  # the client went away while we were sending
                return
            if not keep_open:
                return

    async def _ws_frame(
        self, send: Send, conn: _WsConnection, data: str | bytes, start: float
    ) -> bool:
        """Answer one client frame (which arrived at ``start``); False when the connection
        is finished."""
        model = self.model
        seq = model.next_request()
        size = _utf8_len(data) if isinstance(data, str) else len(data)
        record = Record(
            seq=seq,
            transport="ws",
            endpoint="responses",
            started_at=time.time(),
            bytes_received=size,
            connection=conn.number,
            stream=True,
        )
        fault = model.faults.take(seq, "ws")
        record.fault = fault.kind if fault is not None else None
        tracked = _Tracked(model, record, start)
        stream_id: str | None = None
        continued: str | None = None
        try:
            try:
                parsed = model.memo.parse(data)
                body = parsed.data
                record.body = body if model.keep_bodies else None
                lane = body.get("stream_id")
                stream_id = lane if isinstance(lane, str) else None
                if body.get("type") != "response.create":
                    raise errors.invalid_value(
                        "type",
                        f"Invalid value: {body.get('type')!r}. Supported values are: "
                        "'response.create'.",
                    )
                if time.monotonic() - conn.opened > model.ws_max_age:
                    raise errors.connection_limit_reached()
                fault_error = _fault_error(fault) if fault is not None else None
                if fault_error is not None:
                    raise fault_error
                req = validate_create(parsed, transport="ws")
                _fill_record(record, req)
                continued = req.previous_response_id
                previous = model.resolve_previous(continued, conn.cache)
                plan = model.plan(req, previous, record)
            except ApiError as exc:
                record.status = "error"
                record.http_status = exc.status
                record.error_code = exc.code
                cache = conn.cache
                if continued is not None and cache is not None and cache.response_id == continued:
                    conn.cache = None  # a failed continuation evicts its parent
                frame = dumps(exc.ws_event(stream_id=stream_id))
                record.bytes_sent = _utf8_len(frame)
                tracked.publish()
                await send({"type": "websocket.send", "text": frame})
                if exc.close_after:
                    await send({"type": "websocket.close", "code": 1000, "reason": ""})
                    return False
                return True
            return await self._ws_stream(send, conn, plan, fault, tracked, stream_id)
        finally:
            tracked.finish()

    async def _ws_stream(
        self,
        send: Send,
        conn: _WsConnection,
        plan: Plan,
        fault: Fault | None,
        tracked: _Tracked,
        stream_id: str | None,
    ) -> bool:
        record = tracked.record

        async def send_batch(events: list[Event], final: bool) -> None:
            frames = []
            for event in events:
                if stream_id is not None:
                    event["stream_id"] = stream_id
                frame = plan.event_json(
                    _ws_error_from_stream(event) if event["type"] == "error" else event
                )
                record.bytes_sent += _utf8_len(frame)
                frames.append(frame)
            if final:
                record.status = plan.status
                if plan.status == "error":
                    record.http_status, record.error_code = 500, plan.final["error"]["code"]
                else:
                    conn.cache = plan.conversation
                tracked.publish()
            for frame in frames:
                await send({"type": "websocket.send", "text": frame})

        try:
            outcome = await _pump(plan, fault, send_batch, tracked)
        except OSError:
            record.status = "disconnected"
            raise
        if outcome == "cut" and fault is not None:
            record.status = "dropped"
            if fault.kind == "drop":
                raise DroppedConnectionError
            tracked.publish()
            await send({"type": "websocket.close", "code": fault.close_code, "reason": ""})
            return False
        return True


class _WsConnection:
    """Per-connection state: the one-slot response cache that lets a client continue with
    ``previous_response_id`` and only new items, even with ``store: false``."""

    __slots__ = ("cache", "number", "opened")

    def __init__(self, number: int, opened: float) -> None:
        self.number = number
        self.opened = opened
        self.cache: Conversation | None = None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if len(chunks) != 1 else chunks[0]


async def _send_json(
    send: Send,
    status: int,
    text: str,
    tracked: _Tracked | None = None,
    headers: dict[str, str] | list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a whole JSON answer (``text``), publishing ``tracked`` (with ``bytes_sent``)
    first."""
    payload = text.encode()
    raw_headers = [_JSON, (b"content-length", str(len(payload)).encode())]
    if isinstance(headers, dict):
        raw_headers.extend((k.encode(), v.encode()) for k, v in headers.items())
    elif headers:
        raw_headers.extend(headers)
    if tracked is not None:
        tracked.record.bytes_sent = len(payload)
        tracked.publish()
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _deny(send: Send, status: int, text: str) -> None:
    """Refuse a WebSocket handshake with a real HTTP status (the ASGI
    ``websocket.http.response`` extension), e.g. 426 when WebSocket mode is off."""
    payload = text.encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "websocket.http.response.body", "body": payload})


async def _sleep_until(tracked: _Tracked, due_ms: float) -> None:
    wait_ms = due_ms - tracked.elapsed_ms()
    if wait_ms > 0:
        await anyio.sleep(wait_ms / 1000)
