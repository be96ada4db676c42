"""The HTTP transport: ``POST {base_url}/responses`` with ``stream: true``, read as SSE.

Stateless by design: every request carries the whole input, ``store: false`` and the
encrypted reasoning (both set in the :class:`~agent.model.request.RequestTemplate`), so the
server keeps nothing and any replica can answer. ``prompt_cache_key`` keeps those repeated
prefixes hitting the prompt cache. One connection pool (keep-alive, TLS context and
certificates) serves the whole session: building a client per request costs milliseconds per
turn.

Events are parsed incrementally as they arrive (:class:`~agent.model.sse.SseParser` over the
raw response stream), so text reaches the screen token by token and the first tool call can
be seen before the response ends.

The streaming request goes straight to an ``httpcore2`` pool (:mod:`agent.model.pool`) rather
than through ``httpx2.AsyncClient.stream``: the client layer (URL merging, cookies, auth and
redirect handling, event hooks, text decoding, its SSE decoder) costs about 0.25 ms of CPU per
request and the Responses API needs none of it, and the pool sends each request in one write.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Mapping, Sequence
from typing import Any, Literal, cast

import anyio
import httpcore2
import httpx2

from agent.model.base import Event, ModelEvent, TransportStats, retrying
from agent.model.errors import ContextWindowExceededError, ModelError, is_retryable
from agent.model.pool import TRANSPORT_ERRORS, connection_pool
from agent.model.request import History, RequestTemplate, encode
from agent.model.retry import RetryPolicy, parse_retry_after
from agent.model.sse import SseParser
from schemas.responses import CompactedResponse

_loads = json.loads

SKIPPABLE: frozenset[str] = frozenset(
    {"response.created", "response.in_progress", "response.queued"}
)
"""Events a caller may ask not to receive. Each carries the whole response object, the
``tools`` array included (tens of KB), only to say that the response exists; parsing them is
most of a client's per-turn work on a short turn. With ``skip_lifecycle`` they are
recognised without parsing (SSE ``event:`` line, or the frame's first bytes) and dropped."""


def wire_size(request: httpcore2.Request, body: bytes) -> int:
    """Bytes of an HTTP/1.1 request on the wire: request line, headers, blank line, body."""
    line = len(request.method) + len(request.url.target) + len(" HTTP/1.1\r\n") + 1
    headers = sum(len(k) + len(v) + 4 for k, v in request.headers)
    return line + headers + 2 + len(body)


def _header_map(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """Response headers by lower-case name (what :func:`parse_retry_after` reads)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


def error_from_body(status: int, body: bytes, headers: Mapping[str, str]) -> ModelError:
    """A :class:`ModelError` from a non-2xx answer (``{"error": {message, code, ...}}``)."""
    message = body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
    code: str | None = None
    try:
        data = _loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            raw_code = error.get("code") or error.get("type")
            code = str(raw_code) if raw_code else None
        elif isinstance(data.get("detail"), str):
            message = data["detail"]
    return make_error(message, status=status, code=code, retry_after=parse_retry_after(headers))


def make_error(
    message: str, *, status: int | None, code: str | None, retry_after: float | None = None
) -> ModelError:
    cls = ContextWindowExceededError if code == "context_length_exceeded" else ModelError
    return cls(
        message,
        status=status,
        code=code,
        retryable=is_retryable(status, code),
        retry_after=retry_after,
    )


def stream_error(event: Event) -> ModelError:
    """A :class:`ModelError` from an ``error`` or ``response.failed`` event. Both the flat
    SSE shape and the nested WebSocket shape (with ``status``) are understood."""
    if event["type"] == "response.failed":
        response = event.get("response") or {}
        detail = response.get("error") or {}
        return make_error(
            str(detail.get("message") or "the response failed"),
            status=None,
            code=detail.get("code"),
        )
    nested = event.get("error")
    detail = nested if isinstance(nested, dict) else event
    status = event.get("status")
    retry_after = None
    headers = detail.get("headers")
    if isinstance(headers, dict):
        retry_after = parse_retry_after({str(k).lower(): str(v) for k, v in headers.items()})
    return make_error(
        str(detail.get("message") or "error event"),
        status=status if isinstance(status, int) else None,
        code=detail.get("code"),
        retry_after=retry_after,
    )


class HttpTransport:
    """Stateless Responses API over HTTP + SSE."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        idle_timeout: float = 300.0,
        connect_timeout: float = 15.0,
        skip_lifecycle: bool = False,
    ) -> None:
        base = base_url.rstrip("/")
        url = httpx2.URL(base + "/responses")
        self._url = httpcore2.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        )
        self._compact_url = base + "/responses/compact"
        headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._headers = headers
        self._request_head = [*headers.items(), ("Host", url.netloc.decode("ascii"))]
        """Every request's headers but its ``Content-Length``."""
        self._retry = retry or RetryPolicy()
        self._skip = SKIPPABLE if skip_lifecycle else frozenset()
        timeout = httpx2.Timeout(idle_timeout, connect=connect_timeout)
        # ``idle_timeout`` bounds the wait for each read, so a stream that stalls (a
        # half-open connection, a stuck server) fails and is retried.
        self._extensions = {"timeout": timeout.as_dict()}
        self._pool = connection_pool(base)
        # Compaction (rare, not streamed) goes through an ordinary client.
        self._client = httpx2.AsyncClient(timeout=timeout)
        self.stats = TransportStats()

    @property
    def name(self) -> Literal["http", "websocket"]:
        return "http"

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    def reset(self) -> None:
        """Nothing to forget: every request is complete in itself."""

    async def prepare(self) -> None:
        """Nothing to open ahead: the pool connects on the first request."""

    def stream(
        self, template: RequestTemplate, history: History
    ) -> AsyncGenerator[ModelEvent, None]:
        body = template.http_body(history)
        return retrying(lambda: self._attempt(body), self._retry, self.stats)

    async def _attempt(self, body: bytes) -> AsyncGenerator[Event, None]:
        stats = self.stats
        stats.requests += 1
        stats.full_requests += 1
        stats.bytes_sent += len(body)
        request = httpcore2.Request(
            "POST",
            self._url,
            headers=[*self._request_head, ("Content-Length", str(len(body)))],
            content=body,
            extensions=self._extensions,
        )
        stats.wire_bytes_sent += wire_size(request, body)
        try:
            response = await self._pool.handle_async_request(request)
            try:
                if response.status != 200:
                    raw = await response.aread()
                    raise error_from_body(response.status, raw, _header_map(response.headers))
                parser = SseParser()
                finished = False
                skip = self._skip
                async for chunk in cast(AsyncIterable[bytes], response.stream):
                    if finished:
                        # Read on to the end of the body (the server closes the stream right
                        # after): a connection with unread body is not reused, and a new
                        # connection per turn costs far more than the last few bytes.
                        continue
                    for name, data in parser.feed(chunk):
                        if finished or name in skip or data == b"[DONE]":
                            continue
                        event: Event = _loads(data)
                        kind = event.get("type")
                        if kind == "error" or kind == "response.failed":
                            raise stream_error(event)
                        yield event
                        if kind == "response.completed" or kind == "response.incomplete":
                            finished = True
                if finished:
                    return
            finally:
                await response.aclose()
        except TRANSPORT_ERRORS as exc:
            raise ModelError(
                f"connection to the model failed: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        except ValueError as exc:  # a data line that is not JSON
            raise ModelError(f"malformed event from the model: {exc}", retryable=True) from exc
        raise ModelError("the stream ended before the response was complete", retryable=True)

    async def compact(
        self, template: RequestTemplate, history: History, *, instructions: str | None = None
    ) -> CompactedResponse:
        """``POST /responses/compact``; retried like a stream (it has no partial output)."""
        fields: dict[str, Any] = {"model": template.model}
        if instructions is not None or template.instructions is not None:
            fields["instructions"] = (
                instructions if instructions is not None else template.instructions
            )
        if template.prompt_cache_key is not None:
            fields["prompt_cache_key"] = template.prompt_cache_key
        body = b"{" + encode(fields)[1:-1] + b',"input":[' + history.joined + b"]}"
        number = 0
        while True:
            self.stats.requests += 1
            self.stats.bytes_sent += len(body)
            try:
                response = await self._client.post(
                    self._compact_url, content=body, headers=self._headers
                )
                if response.status_code == 200:
                    return cast(CompactedResponse, response.json())
                error = error_from_body(response.status_code, response.content, response.headers)
            except httpx2.TransportError as exc:
                error = ModelError(f"compaction request failed: {exc}", retryable=True)
            except ValueError as exc:
                error = ModelError(f"malformed compaction response: {exc}")
            delay = self._retry.delay(number, error.retry_after) if error.retryable else None
            if delay is None:
                raise error
            self.stats.retries += 1
            number += 1
            await anyio.sleep(delay)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2.0):
            await self._pool.aclose()
            await self._client.aclose()
