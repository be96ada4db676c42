"""What the mock model knows about a conversation, and how it remembers one.

A :class:`Conversation` is the full context behind a response — every input item plus the
output it produced — kept so that a later request can continue it with
``previous_response_id``: in the server-wide store when the request had ``store: true``,
and in the WebSocket connection's one-slot cache regardless.

:func:`scan` reads the facts a turn decision needs from a context in one pass: how many
model turns it holds, which function calls were made (to reject an output nobody asked
for), and which tool outputs arrived since the model last spoke (for rules). It can resume
from the facts of an earlier run of items, so a :class:`Context` — items plus their prompt
bytes and facts — grows by its new items only: a conversation continued over the WebSocket,
or re-sent in full over HTTP (see :mod:`agent.mockmodel.parsing`), costs the server the
same per turn at turn 100 as at turn 1.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.mockmodel.errors import ApiError
from agent.mockmodel.prompt import items_bytes, join_items
from agent.mockmodel.scripts import ToolOutput
from schemas.responses import MODEL_ITEM_TYPES, TOOL_OUTPUT_ITEM_TYPES

Item = Mapping[str, Any]

COMPACTION_PREFIX = "twmock1."
"""Marks ``encrypted_content`` this server minted, so a foreign blob is recognised."""


@dataclass(slots=True)
class Facts:
    turns: int = 0
    calls: dict[str, str] = field(default_factory=dict)
    recent_outputs: list[ToolOutput] = field(default_factory=list)
    orphan_call_id: str | None = None
    """The first ``function_call_output`` whose call is not in the conversation."""
    in_model_run: bool = False
    """The last item scanned was the model's (so the next model item is the same turn)."""

    def copy(self) -> Facts:
        return Facts(
            self.turns,
            dict(self.calls),
            list(self.recent_outputs),
            self.orphan_call_id,
            self.in_model_run,
        )


@dataclass(frozen=True, slots=True)
class Context:
    """A run of items with what every request derives from them: the canonical prompt bytes
    (:func:`~agent.mockmodel.prompt.items_bytes`) and the :func:`scan` facts. Treated as
    immutable, so that a continuation can share it."""

    items: list[Item]
    blob: bytes
    facts: Facts

    def extend(self, items: Sequence[Item]) -> Context:
        """This context followed by ``items``, at the cost of ``items`` alone."""
        if not items:
            return self
        return Context(
            [*self.items, *items],
            join_items(self.blob, items_bytes(items)),
            scan(items, after=self.facts),
        )


EMPTY_CONTEXT = Context([], b"", Facts())


@dataclass(frozen=True, slots=True)
class Conversation:
    """The context of one finished response."""

    response_id: str
    context: Context


def is_model_item(item: Item) -> bool:
    kind = item.get("type")
    if kind is None or kind == "message":
        return item.get("role") == "assistant"
    return kind in MODEL_ITEM_TYPES


def output_text(output: object) -> str:
    """A tool output as text: the string itself, or its text parts joined."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in output
            if isinstance(part, dict) and part.get("type") in ("input_text", "output_text")
        )
    return ""


def scan(items: Sequence[Item], *, after: Facts | None = None) -> Facts:
    """The facts of ``items``; with ``after``, of the items ``after`` was scanned from
    followed by ``items`` (``after`` itself is left as it was)."""
    facts = after.copy() if after is not None else Facts()
    in_model_run = facts.in_model_run
    for item in items:
        kind = item.get("type")
        if is_model_item(item):
            if not in_model_run:
                facts.turns += 1
                in_model_run = True
                facts.recent_outputs.clear()
            if kind in ("function_call", "custom_tool_call"):
                call_id = item.get("call_id")
                if isinstance(call_id, str):
                    facts.calls[call_id] = str(item.get("name", ""))
            continue
        in_model_run = False
        if kind in TOOL_OUTPUT_ITEM_TYPES:
            call_id = item.get("call_id")
            name = facts.calls.get(call_id) if isinstance(call_id, str) else None
            if name is None and kind == "function_call_output" and facts.orphan_call_id is None:
                facts.orphan_call_id = str(call_id)
            facts.recent_outputs.append(ToolOutput(name, output_text(item.get("output"))))
        elif kind == "compaction":
            state = decode_compaction(str(item.get("encrypted_content", "")))
            if state is not None:
                facts.turns += int(state.get("turns", 0))
            facts.recent_outputs.clear()
        else:
            facts.recent_outputs.clear()
    facts.in_model_run = in_model_run
    return facts


def encode_compaction(turns: int, items: Sequence[Item]) -> str:
    """The opaque ``encrypted_content`` of a compaction item. It records how many model
    turns it replaces, so the script continues where the conversation was."""
    digest = hashlib.sha256(items_bytes(items)).hexdigest()[:32]
    payload = json.dumps({"turns": turns, "items": len(items), "digest": digest})
    return COMPACTION_PREFIX + base64.urlsafe_b64encode(payload.encode()).decode()


def decode_compaction(blob: str) -> dict[str, Any] | None:
    if not blob.startswith(COMPACTION_PREFIX):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(blob[len(COMPACTION_PREFIX) :]))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check_compaction_items(items: Sequence[Item], *, start: int = 0) -> None:
    """Reject compaction items this server cannot read, as the real API rejects blobs it
    did not produce. Items before ``start`` are known to have passed already."""
    for index in range(start, len(items)):
        item = items[index]
        if item.get("type") == "compaction":
            blob = item.get("encrypted_content")
            if not isinstance(blob, str) or decode_compaction(blob) is None:
                raise ApiError(
                    400,
                    "The encrypted content of the compaction item could not be verified.",
                    param=f"input[{index}].encrypted_content",
                    code="invalid_encrypted_content",
                )


def user_messages(items: Sequence[Item]) -> list[dict[str, Any]]:
    """The user messages of a context, normalized to list content (what compaction keeps)."""
    kept: list[dict[str, Any]] = []
    for item in items:
        if item.get("type", "message") == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                content = [{"type": "input_text", "text": content}]
            kept.append({"type": "message", "role": "user", "content": content})
    return kept
