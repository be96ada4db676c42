"""Sessions: every item of a conversation, appended to a JSONL file as it arrives.

One file per session under the user state directory (``platformdirs``; override with
``TOOLWIRE_STATE_DIR``), named by the session id. The first line describes the session;
then one line per event, in order:

``{"type": "session", ...}``
    id, creation time, working directory, provider, model, transport, approval, sandbox,
    and ``context``: how many leading items are the initial context (see
    :mod:`agent.prompt`).
``{"type": "item", "item": {...}}``
    one history item, exactly as sent to the model (the bytes are the ones the request
    uses, written without re-encoding).
``{"type": "history", "reason": ..., "items": [...]}``
    the history was rewritten (compaction, or repair of an interrupted tail): it is now
    exactly these items.
``{"type": "turn", ...}``
    a response completed: its id, usage and the running totals.
``{"type": "end", "status": ...}``
    the run ended (completed, failed, interrupted); a resumed session appends more.

Each line is written with one ``write`` system call as soon as the item exists, so a crash
(even SIGKILL) loses nothing already received: the kernel has the bytes. There is no
``fsync`` per line (milliseconds each); surviving power loss is not the goal. Writing a
few kilobytes to the page cache takes microseconds, so it is done inline rather than
handed to a thread (a thread hop costs more than the write).

Resuming replays the file into a history and repairs what an abrupt end can leave behind:
a half-written last line is ignored, function calls that never got an output get one saying
the call was interrupted, and a trailing reasoning item with nothing after it is dropped
(the API rejects reasoning that is not followed by the item it led to).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from agent.model.request import Item, encode

APP = "toolwire"
FORMAT = 1
INTERRUPTED_OUTPUT = (
    "ERROR: interrupted: the session ended before this call returned, so its result is "
    "unknown. Check the state it may have changed, and run it again if it is still needed."
)


def state_dir() -> Path:
    override = os.environ.get("TOOLWIRE_STATE_DIR")
    if override:
        return Path(override).expanduser()
    return platformdirs.user_state_path(APP)


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def new_session_id() -> str:
    """Sortable by creation time, unique without coordination."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


@dataclass
class Totals:
    turns: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        self.turns += 1
        if not usage:
            return
        self.input_tokens += int(usage.get("input_tokens") or 0)
        self.output_tokens += int(usage.get("output_tokens") or 0)
        details = usage.get("input_tokens_details") or {}
        self.cached_tokens += int(details.get("cached_tokens") or 0)
        out_details = usage.get("output_tokens_details") or {}
        self.reasoning_tokens += int(out_details.get("reasoning_tokens") or 0)

    @property
    def cache_hit_rate(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "turns": self.turns,
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


class Session:
    """An open session: its metadata and the file it appends to (``None`` when ephemeral)."""

    def __init__(self, meta: dict[str, Any], path: Path | None, *, fd: int | None = None) -> None:
        self.meta = meta
        self.path = path
        self._fd = fd

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    @property
    def ephemeral(self) -> bool:
        return self.path is None

    @property
    def context_count(self) -> int:
        return int(self.meta.get("context", 0))

    def plan_file(self) -> Path | None:
        """Where the plan server keeps this session's plan, so a resumed session has it."""
        if self.path is None:
            return None
        return self.path.with_suffix(".plan.json")

    # -- creating and opening ----------------------------------------------------------

    @classmethod
    def create(
        cls, meta: dict[str, Any], *, ephemeral: bool = False, directory: Path | None = None
    ) -> Session:
        session_id = str(meta.get("id") or new_session_id())
        full = {
            "type": "session",
            "format": FORMAT,
            "id": session_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: v for k, v in meta.items() if k not in ("type", "id")},
        }
        if ephemeral:
            return cls(full, None)
        folder = directory or sessions_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{session_id}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        session = cls(full, path, fd=fd)
        session._write(encode(full) + b"\n")
        return session

    @classmethod
    def open_existing(cls, path: Path) -> tuple[Session, Replay]:
        """Open ``path`` to append to, with its replayed content."""
        replay = replay_file(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        session = cls(replay.meta, path, fd=fd)
        if replay.torn:
            # Start on a fresh line: the half-written one stays unparsable and is skipped.
            session._write(b"\n")
        return session, replay

    # -- writing -----------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            return
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def append_item(self, encoded: bytes) -> None:
        """One history item, given as its already-encoded JSON."""
        if self._fd is not None:
            self._write(b'{"type":"item","item":' + encoded + b"}\n")

    def append_items(self, encoded: Iterable[bytes]) -> None:
        if self._fd is not None:
            self._write(b"".join(b'{"type":"item","item":' + e + b"}\n" for e in encoded))

    def rewrite(self, reason: str, items: Sequence[Item], **extra: Any) -> None:
        if self._fd is not None:
            record = {"type": "history", "reason": reason, **extra, "items": list(items)}
            self._write(encode(record) + b"\n")

    def record(self, record_type: str, /, **fields: Any) -> None:
        if self._fd is not None:
            self._write(encode({"type": record_type, **fields}) + b"\n")

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


@dataclass
class Replay:
    """A session file read back: metadata, the history it ends with, and totals."""

    meta: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    ends: list[str] = field(default_factory=list)
    torn: bool = False
    """The last line was cut short (the process died mid-write)."""
    repairs: list[dict[str, Any]] = field(default_factory=list)
    """Items added by :func:`repair` (not yet in the file)."""
    dropped: int = 0
    """Trailing items :func:`repair` removed."""


def replay_file(path: Path) -> Replay:
    data = path.read_bytes()
    lines = data.split(b"\n")
    torn = bool(lines and lines[-1].strip())
    meta: dict[str, Any] | None = None
    replay = Replay(meta={})
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines) - 1:
                break  # the torn last line
            continue  # a torn line from an earlier crash, followed by a resumed run
        if not isinstance(record, dict):
            continue
        kind = record.get("type")
        if kind == "session" and meta is None:
            meta = record
        elif kind == "item":
            replay.items.append(record["item"])
        elif kind == "history":
            replay.items = list(record.get("items") or [])
        elif kind == "turn":
            replay.totals.add(record.get("usage"))
        elif kind == "end":
            replay.ends.append(str(record.get("status")))
    if meta is None:
        raise ValueError(f"{path} is not a toolwire session (no session line)")
    replay.meta = meta
    replay.torn = torn and not data.endswith(b"\n")
    return replay


def repair(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Make a history that ended abruptly acceptable to the API again.

    Returns ``(items, added, dropped)``: trailing reasoning items with nothing after them are
    dropped, and every function call without an output gets :data:`INTERRUPTED_OUTPUT`
    (appended at the end, in call order).
    """
    dropped = 0
    while items and items[-1].get("type") == "reasoning":
        items = items[:-1]
        dropped += 1
    answered = {item.get("call_id") for item in items if item.get("type") == "function_call_output"}
    added = [
        {"type": "function_call_output", "call_id": item["call_id"], "output": INTERRUPTED_OUTPUT}
        for item in items
        if item.get("type") == "function_call" and item.get("call_id") not in answered
    ]
    return items + added, added, dropped


def list_sessions(directory: Path | None = None) -> list[Path]:
    """Session files, newest first (by modification time: the last one worked on)."""
    folder = directory or sessions_dir()
    if not folder.is_dir():
        return []
    files = [p for p in folder.glob("*.jsonl") if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def find_session(
    ident: str | None, *, cwd: Path | None = None, directory: Path | None = None
) -> Path | None:
    """The session file for ``ident`` (an id or a unique prefix of one), or with
    ``ident=None`` the most recent session, preferring one started in ``cwd``."""
    files = list_sessions(directory)
    if ident is not None:
        exact = [p for p in files if p.stem == ident]
        if exact:
            return exact[0]
        matches = [p for p in files if p.stem.startswith(ident)]
        if len(matches) > 1:
            raise LookupError(
                f"session id prefix {ident!r} is ambiguous: "
                + ", ".join(p.stem for p in matches[:5])
            )
        return matches[0] if matches else None
    if not files:
        return None
    if cwd is not None:
        for path in files:
            try:
                with path.open("rb") as f:
                    first = json.loads(f.readline())
            except (OSError, ValueError):
                continue
            if isinstance(first, dict) and first.get("cwd") == str(cwd):
                return path
    return files[0]
