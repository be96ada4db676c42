"""rg's ``--json`` events as rg writes them, for tests: compact JSON, one event per line, text
that is not valid UTF-8 sent as base64 ``bytes``."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st


def data(raw: bytes) -> dict[str, str]:
    """rg's ``{"text": ...}``, or ``{"bytes": base64}`` for bytes that are not UTF-8."""
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bytes": base64.b64encode(raw).decode()}


def line(event: dict[str, Any]) -> bytes:
    """One event as rg prints it (serde_json: compact, non-ASCII unescaped), newline included."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def begin(path: bytes) -> bytes:
    return line({"type": "begin", "data": {"path": data(path)}})


def end(path: bytes, binary_offset: int | None = None) -> bytes:
    stats = {"elapsed": {"secs": 0, "nanos": 1, "human": "0s"}, "matches": 1}
    return line(
        {
            "type": "end",
            "data": {"path": data(path), "binary_offset": binary_offset, "stats": stats},
        }
    )


def lines_event(kind: str, path: bytes, number: int, text: bytes, starts: list[int]) -> bytes:
    subs = [{"match": {"text": "m"}, "start": s, "end": s + 1} for s in starts]
    return line(
        {
            "type": kind,
            "data": {
                "path": data(path),
                "lines": data(text),
                "line_number": number,
                "absolute_offset": 0,
                "submatches": subs,
            },
        }
    )


SUMMARY = line({"data": {"elapsed_total": {"secs": 0}, "stats": {}}, "type": "summary"})
"""The closing summary as rg writes it: ``type`` last, unlike every other event."""
SUMMARY_TYPE_FIRST = line({"type": "summary", "data": {"elapsed_total": {"secs": 0}, "stats": {}}})
"""The same in the other events' layout (a future rg might write it so)."""

# Bytes that are hard on a parser that looks at raw JSON: quotes, backslashes, newlines, the
# event markers themselves, non-ASCII and bytes that are not UTF-8 at all.
TRICKY = st.sampled_from(
    [
        b'"',
        b"\\",
        b"\n",
        b"\t",
        b"/",
        b".",
        b"\x7f",
        b"\x01",
        "é".encode(),
        "日".encode(),
        b"\xff",
        b"\xc3",
        b'{"type":"begin"',
        b'\n{"type":"match"',
        b"a",
        b"Z",
        b"0",
    ]
)
raw_names = st.lists(st.one_of(TRICKY, st.binary(min_size=1, max_size=4)), min_size=1, max_size=6)
paths = raw_names.map(lambda parts: b"".join(parts).replace(b"\0", b"_"))
"""File paths as rg may print them: any bytes but NUL."""
texts = st.lists(st.one_of(TRICKY, st.binary(max_size=6)), max_size=8).map(b"".join)
