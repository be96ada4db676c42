"""The canonical prompt: the bytes the mock model "reads", for token counts and caching.

The prompt is ``header + items``. The header is the instructions and the ``tools`` array
serialized *as the client sent them* (key order preserved), because a real deployment
renders tool schemas into the prompt in the order given: an unstable ``tools`` array must
cost cache hits here just as it does there. Each input item, by contrast, is parsed by the
real API and re-rendered, so its bytes here are normalized: keys sorted, the bookkeeping
fields the model never sees (``id``, ``status``, annotations, logprobs) dropped, and a
message's string content spelled as a one-part list. That way the same conversation costs
the same tokens whether it arrived in full over HTTP or incrementally over the WebSocket
(where the server supplies the earlier items itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from agent.mockmodel.jsontext import dumps

_DROP_ITEM_KEYS = frozenset({"id", "status"})
# Built once: ``json.dumps`` with options builds a new encoder per call.
_ITEMS_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_DROP_PART_KEYS = frozenset({"annotations", "logprobs"})


def header_bytes(instructions: object, tools_json: str) -> bytes:
    """Instructions and tools, in the client's own key order: the compact JSON object
    ``{"instructions": ..., "tools": ...}``, with the tools given already encoded (see
    :mod:`agent.mockmodel.jsontext`)."""
    return f'{{"instructions":{dumps(instructions)},"tools":{tools_json}}}'.encode()


def canonical_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an item that reach the model."""
    out = {k: v for k, v in item.items() if k not in _DROP_ITEM_KEYS}
    if "role" in out:
        out.setdefault("type", "message")
        content = out.get("content")
        if isinstance(content, str):
            kind = "output_text" if out.get("role") == "assistant" else "input_text"
            out["content"] = [{"type": kind, "text": content}]
        elif isinstance(content, list):
            out["content"] = [
                {k: v for k, v in part.items() if k not in _DROP_PART_KEYS}
                if isinstance(part, dict)
                else part
                for part in content
            ]
    return out


def items_bytes(items: Iterable[Mapping[str, Any]]) -> bytes:
    """Canonical bytes of a run of items: compact, key-sorted JSON objects separated by
    commas (a JSON array without its brackets). A conversation's bytes are thus a prefix of
    its continuation's, and two runs combine with :func:`join_items`."""
    return _ITEMS_ENCODER.encode([canonical_item(item) for item in items])[1:-1].encode()


def join_items(first: bytes, second: bytes) -> bytes:
    """The bytes of two consecutive runs of items, as :func:`items_bytes` of both."""
    if not first:
        return second
    if not second:
        return first
    return first + b"," + second
