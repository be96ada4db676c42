"""The transport interface: one request in, one typed event stream out.

Both transports yield the Responses API's own stream events (:data:`schemas.responses.
StreamEvent`, exactly as parsed from SSE or WebSocket frames, never copied into other
objects) plus one event of ours, :class:`RetryEvent`, which says that a failed attempt
is being retried and that anything streamed since the last ``response.created`` is void.
The stream ends after ``response.completed`` or ``response.incomplete``; every other way
of ending raises a :class:`~agent.model.errors.ModelError`.

The retry rule lives here once for both transports: an attempt is retried (after a jittered
backoff, or the server's ``retry-after``) only while no ``response.output_item.done`` has
been yielded. After that the consumer has committed items, and a retry would answer a
different question, so :class:`~agent.model.errors.StreamInterruptedError` is raised instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

import anyio
from typing_extensions import TypedDict

from agent.model.errors import ModelError, StreamInterruptedError
from agent.model.request import History, RequestTemplate
from agent.model.retry import RetryPolicy
from schemas.responses import CompactedResponse, StreamEvent


class RetryEvent(TypedDict):
    """Ours, not the API's: attempt ``attempt`` failed with ``reason`` and the next starts
    in ``delay`` seconds. Text streamed since the last ``response.created`` is void."""

    type: Literal["toolwire.retry"]
    attempt: int
    delay: float
    reason: str


ModelEvent: TypeAlias = StreamEvent | RetryEvent
"""What :meth:`Transport.stream` yields. Events are plain dicts; dispatch on ``["type"]``."""

Event: TypeAlias = dict[str, Any]
"""An event before it is known to be well formed (straight from ``json.loads``)."""


@dataclass(slots=True)
class TransportStats:
    """Counters for the end-of-run summary and the benchmarks."""

    requests: int = 0
    bytes_sent: int = 0
    """Request bodies / frames before compression (what the API parses)."""
    wire_bytes_sent: int = 0
    """Bytes on the wire: HTTP request lines, headers and bodies; for the WebSocket, what was
    written to the socket after the upgrade (compressed frames, pings, close frames)."""
    retries: int = 0
    full_requests: int = 0
    """Requests that carried the whole input (all of them over HTTP)."""
    incremental_requests: int = 0
    """WebSocket requests that carried only new items after ``previous_response_id``."""
    reconnects: int = 0
    fallbacks: int = 0


class Transport(Protocol):
    """A connection to a model endpoint, kept for the whole session."""

    stats: TransportStats

    @property
    def name(self) -> Literal["http", "websocket"]:
        """The transport actually in use (a WebSocket that fell back reports ``http``)."""
        ...

    def stream(
        self, template: RequestTemplate, history: History
    ) -> AsyncGenerator[ModelEvent, None]:
        """Send ``history`` under ``template`` and yield the response's events."""
        ...

    async def compact(
        self, template: RequestTemplate, history: History, *, instructions: str | None = None
    ) -> CompactedResponse:
        """``POST /responses/compact`` with the whole history."""
        ...

    def reset(self) -> None:
        """Forget any server-side continuation state (the next request sends everything)."""
        ...

    async def prepare(self) -> None:
        """Connect ahead of the first request where that helps (never raises)."""
        ...

    async def aclose(self) -> None: ...


async def retrying(
    attempt: Callable[[], AsyncGenerator[Event, None]],
    policy: RetryPolicy,
    stats: TransportStats,
    on_failure: Callable[[ModelError], None] | None = None,
) -> AsyncGenerator[ModelEvent, None]:
    """Run ``attempt`` until one succeeds, under the rule in the module docstring.

    ``on_failure`` sees every failed attempt first (the WebSocket transport drops its
    continuation state there, so the retry resends the full input).
    """
    number = 0
    while True:
        committed = False
        try:
            async with aclosing(attempt()) as events:
                async for event in events:
                    if event["type"] == "response.output_item.done":
                        committed = True
                    yield event  # type: ignore[misc]
            return
        except ModelError as error:
            if on_failure is not None:
                on_failure(error)
            if committed:
                raise StreamInterruptedError(
                    f"the stream broke after output was received: {error}",
                    status=error.status,
                    code=error.code,
                ) from error
            delay = policy.delay(number, error.retry_after) if error.retryable else None
            if delay is None:
                raise
            stats.retries += 1
            yield RetryEvent(
                type="toolwire.retry", attempt=number + 1, delay=delay, reason=str(error)
            )
            await anyio.sleep(delay)
            number += 1
