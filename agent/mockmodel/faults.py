"""Faults on demand: the failures a client of a hosted model has to survive.

A fault is queued (from a script's ``faults`` list, from ``--fault`` on the command line,
or with :meth:`MockModelServer.inject`) and fires on the next request it applies to:

==================  ==========================================================  =========
kind                what the client sees                                        transport
==================  ==========================================================  =========
``rate_limit``      429 with ``retry-after``/``retry-after-ms`` and code         both
                    ``rate_limit_exceeded`` (an ``error`` event with status 429
                    on the WebSocket)
``server_error``    500 (or ``status``) with type ``server_error``              both
``drop``            the TCP connection closes after ``after_events`` events,     both
                    without finishing the body (WebSocket: no close frame, 1006)
``ws_close``        the WebSocket is closed with ``close_code`` (default 1011)   ws
                    after ``after_events`` events
``connection_limit`` ``websocket_connection_limit_reached`` error, then close   ws
``slow``            every event is delayed by a further ``delay_ms``             both
==================  ==========================================================  =========

A fault with ``times = N`` fires on N consecutive matching requests. ``at_request = K``
holds it back until the server's K-th request (1-based, counting every request on every
transport). ``transport`` limits it to ``"http"`` or ``"ws"``. A fault that cannot happen
on a transport (``ws_close`` over HTTP) is skipped there and stays queued.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["rate_limit", "server_error", "drop", "ws_close", "connection_limit", "slow"]
Transport = Literal["http", "ws"]

_WS_ONLY: frozenset[str] = frozenset({"ws_close", "connection_limit"})


class Fault(BaseModel):
    """One scripted failure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    times: int = Field(default=1, ge=1, description="How many matching requests it hits.")
    at_request: int | None = Field(
        default=None, ge=1, description="Wait until the server's N-th request (1-based)."
    )
    transport: Transport | None = Field(default=None, description="Only this transport.")
    after_events: int = Field(default=0, ge=0, description="drop / ws_close: events sent first.")
    retry_after: float = Field(default=1.0, ge=0, description="rate_limit: seconds to wait.")
    status: int = Field(default=500, ge=500, le=599, description="server_error: the status code.")
    close_code: int = Field(default=1011, ge=1000, le=4999, description="ws_close: the close code.")
    delay_ms: float = Field(default=500.0, ge=0, description="slow: extra delay before each event.")

    def applies_to(self, transport: Transport) -> bool:
        if self.transport is not None and self.transport != transport:
            return False
        return transport == "ws" or self.kind not in _WS_ONLY

    @classmethod
    def parse_spec(cls, spec: str) -> Fault:
        """Parse the command-line form ``KIND[:key=value,...]``, e.g.
        ``rate_limit:retry_after=2,times=3`` or ``drop:after_events=5``."""
        kind, _, rest = spec.partition(":")
        fields: dict[str, object] = {"kind": kind.strip()}
        for pair in filter(None, (p.strip() for p in rest.split(","))):
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"fault option {pair!r} is not key=value")
            fields[key.strip()] = value.strip()
        return cls.model_validate(fields)


@dataclass(slots=True)
class _Pending:
    fault: Fault
    left: int


class FaultPlan:
    """The queue of pending faults. Thread-safe: a benchmark running the server in a
    background thread injects faults from its own thread."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = [_Pending(f, f.times) for f in faults]

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self._pending.extend(_Pending(f, f.times) for f in faults)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [entry.fault for entry in self._pending]

    def take(self, request_number: int, transport: Transport) -> Fault | None:
        """The fault for this request, if any (consuming one of its ``times``)."""
        if not self._pending:  # lock-free fast path: the common case
            return None
        with self._lock:
            for index, entry in enumerate(self._pending):
                fault = entry.fault
                if fault.at_request is not None and request_number < fault.at_request:
                    continue
                if not fault.applies_to(transport):
                    continue
                entry.left -= 1
                if entry.left <= 0:
                    del self._pending[index]
                return fault
        return None
