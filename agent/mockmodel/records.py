"""Records: one line per request, for the test or benchmark that started the server.

Each request — on either transport, to either endpoint, accepted or not — yields a
:class:`Record`. In-process users read ``server.records``; ``--record FILE`` appends them
as JSON lines (one write per line, so a killed server loses nothing already answered).

``server_ms`` is the time the server itself spent on the request: from the arrival of the
request's last bytes to the moment the last byte of the answer was handed to the transport,
*including* the waits of the latency model (``simulated_ms`` of it); exactly what it covers
is in :mod:`agent.mockmodel.app`. A benchmark that measures a turn's wall time on the client
subtracts ``server_ms`` to get the client's own overhead.

A record joins ``records`` just *before* the write that lets the client see the end of its
answer, so a client that has its answer always finds the record there; its ``server_ms`` is
final, and its JSON line written, once the server has handed over that last byte. A reader
of the file in another process may therefore have its answer a moment before the line is
there (``bench/loop.py`` waits for the lines it expects).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal


@dataclass(slots=True)
class Record:
    seq: int
    """1-based, in arrival order over all transports."""
    transport: Literal["http", "ws"]
    endpoint: Literal["responses", "compact"]
    started_at: float
    """Unix time the request arrived."""
    bytes_received: int
    """Request body, or WebSocket message after permessage-deflate decompression."""
    connection: int | None = None
    """WebSocket connection number (1-based), None over HTTP."""
    stream: bool = False
    model: str | None = None
    item_count: int = 0
    """Input items in this request."""
    context_items: int = 0
    """Items the model saw: the previous response's context plus this request's input."""
    tool_count: int = 0
    previous_response_id: str | None = None
    prompt_cache_key: str | None = None
    generate: bool = True
    response_id: str | None = None
    status: str = "error"
    """``completed``, ``failed``, ``incomplete``, ``error`` (a 4xx/5xx or an error event),
    ``dropped`` (a fault cut the connection) or ``disconnected`` (the client left)."""
    http_status: int = 200
    """Status code, or the ``status`` of a WebSocket error event."""
    error_code: str | None = None
    fault: str | None = None
    turn: str | None = None
    """Which part of the script answered: ``turns[N]``, ``rules[N]`` or ``final``."""
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    events: int = 0
    """Stream events sent."""
    bytes_sent: int = 0
    server_ms: float = 0.0
    simulated_ms: float = 0.0
    """How much of ``server_ms`` the latency model (and a ``slow`` fault) scheduled."""
    body: dict[str, Any] | None = field(default=None, repr=False)
    """The parsed request (kept in memory; written to the JSONL file only when asked)."""

    def to_dict(self, *, include_body: bool = False) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _FIELDS}
        if not include_body:
            del data["body"]
        data["server_ms"] = round(self.server_ms, 3)
        data["simulated_ms"] = round(self.simulated_ms, 3)
        return data


_FIELDS = tuple(f.name for f in dataclasses.fields(Record))


class RecordLog:
    """The in-memory list of records, optionally mirrored to a JSONL file. Appends and
    writes come from the server's event loop; reads may come from another thread (a
    benchmark running the server in the background), hence the lock."""

    def __init__(self, path: str | Path | None = None, *, include_bodies: bool = False) -> None:
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._include_bodies = include_bodies
        self._path = Path(path) if path is not None else None
        self._file: IO[str] | None = None

    def append(self, record: Record) -> None:
        """Make ``record`` visible to readers of :meth:`snapshot`."""
        with self._lock:
            self._records.append(record)

    def write(self, record: Record) -> None:
        """Append ``record``'s JSON line to the file, if there is one (once it is final)."""
        if self._path is not None:
            if self._file is None:  # opened on first use, reopened after a restart
                self._file = self._path.open("a", encoding="utf-8")
            line = json.dumps(record.to_dict(include_body=self._include_bodies))
            self._file.write(line + "\n")
            self._file.flush()

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
