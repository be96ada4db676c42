"""Turning a scripted turn into the exact event sequence of the Responses API.

For every response: ``response.created`` and ``response.in_progress`` (the response with
``status: "in_progress"`` and no output), then per output item ``response.output_item.added``
... ``response.output_item.done`` with, in between,

- a message: ``content_part.added``, ``output_text.delta`` per delta, ``output_text.done``,
  ``content_part.done``;
- a function call: ``function_call_arguments.delta`` per delta and ``.done``;
- reasoning: per summary part ``reasoning_summary_part.added``,
  ``reasoning_summary_text.delta``..., ``reasoning_summary_text.done``,
  ``reasoning_summary_part.done``;

and finally ``response.completed`` (or ``response.failed`` / ``response.incomplete``, or a
bare ``error`` event) carrying the whole response with ``usage``. ``sequence_number``
counts from 0 within the response.

The builder knows nothing about time. Next to each event it notes how many output pieces
(tokens) precede it, and the engine turns that into a send time with the latency model.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

from agent.mockmodel.scripts import (
    FunctionCallSpec,
    MessageSpec,
    ReasoningSpec,
    Turn,
)
from agent.mockmodel.tokens import group_pieces, split_pieces

Event = dict[str, Any]

BEFORE_OUTPUT = -1
"""Offset of the events sent before the first output (created, in_progress)."""


class IdMaker:
    """Response, item and call ids shaped like the real ones (``resp_…``, ``msg_…``,
    ``fc_…``, ``rs_…``, ``call_…``): a random per-server stem plus a counter, which is unique,
    cheaper than a UUID per id, and sorts in creation order."""

    def __init__(self) -> None:
        self._stem = secrets.token_hex(12)
        self._counter = itertools.count(1)

    def new(self, prefix: str) -> str:
        return f"{prefix}_{self._stem}{next(self._counter):08x}"


@dataclass(slots=True)
class Built:
    events: list[Event] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    """Output pieces sent before each event, or ``BEFORE_OUTPUT``."""
    output: list[dict[str, Any]] = field(default_factory=list)
    output_tokens: int = 0
    reasoning_tokens: int = 0


class StreamBuilder:
    """Builds one response's events. ``response`` is the response object as it stands at
    creation (status ``in_progress``, empty output, no usage); the terminal event gets a
    finished copy from :meth:`finish`."""

    def __init__(
        self,
        ids: IdMaker,
        response: dict[str, Any],
        *,
        per_delta: int = 1,
        include_encrypted_reasoning: bool = False,
    ) -> None:
        self._ids = ids
        self._response = response
        self._per_delta = per_delta
        self._include_encrypted = include_encrypted_reasoning
        self._seq = 0
        self._tokens = 0
        self.built = Built()

    # -- plumbing ----------------------------------------------------------------------

    def _emit(self, event: Event, *, before_output: bool = False) -> None:
        event["sequence_number"] = self._seq
        self._seq += 1
        self.built.events.append(event)
        self.built.offsets.append(BEFORE_OUTPUT if before_output else self._tokens)

    def _deltas(self, text: str) -> list[tuple[str, int]]:
        """Deltas of ``text`` with the pieces each one costs."""
        pieces = split_pieces(text)
        per = self._per_delta
        return [
            (d, min(per, len(pieces) - i * per)) for i, d in enumerate(group_pieces(pieces, per))
        ]

    # -- the response ------------------------------------------------------------------

    def start(self) -> None:
        created = dict(self._response)
        self._emit({"type": "response.created", "response": created}, before_output=True)
        self._emit({"type": "response.in_progress", "response": created}, before_output=True)

    def add(self, spec: MessageSpec | FunctionCallSpec | ReasoningSpec) -> None:
        if isinstance(spec, MessageSpec):
            self._message(spec)
        elif isinstance(spec, FunctionCallSpec):
            self._function_call(spec)
        else:
            self._reasoning(spec)

    def add_turn(self, turn: Turn) -> None:
        for spec in turn.output:
            self.add(spec)

    def _message(self, spec: MessageSpec) -> None:
        index = len(self.built.output)
        item_id = self._ids.new("msg")
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        if spec.phase is not None:
            item["phase"] = spec.phase
        self._emit({"type": "response.output_item.added", "output_index": index, "item": item})
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        self._emit(
            {
                "type": "response.content_part.added",
                **where,
                "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
            }
        )
        for delta, cost in self._deltas(spec.text):
            self._tokens += cost
            self._emit(
                {"type": "response.output_text.delta", **where, "delta": delta, "logprobs": []}
            )
        self._emit(
            {"type": "response.output_text.done", **where, "text": spec.text, "logprobs": []}
        )
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": spec.text}
        self._emit({"type": "response.content_part.done", **where, "part": part})
        done = {**item, "status": "completed", "content": [part]}
        self._emit({"type": "response.output_item.done", "output_index": index, "item": done})
        self.built.output.append(done)

    def _function_call(self, spec: FunctionCallSpec) -> None:
        index = len(self.built.output)
        item_id = self._ids.new("fc")
        arguments = spec.arguments_json()
        item: dict[str, Any] = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": spec.call_id or self._ids.new("call"),
            "name": spec.name,
        }
        self._emit({"type": "response.output_item.added", "output_index": index, "item": item})
        where = {"item_id": item_id, "output_index": index}
        for delta, cost in self._deltas(arguments):
            self._tokens += cost
            self._emit({"type": "response.function_call_arguments.delta", **where, "delta": delta})
        self._emit(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "arguments": arguments,
                "name": spec.name,
            }
        )
        done = {**item, "status": "completed", "arguments": arguments}
        self._emit({"type": "response.output_item.done", "output_index": index, "item": done})
        self.built.output.append(done)

    def _reasoning(self, spec: ReasoningSpec) -> None:
        index = len(self.built.output)
        item_id = self._ids.new("rs")
        item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
        self._emit({"type": "response.output_item.added", "output_index": index, "item": item})
        self._tokens += spec.tokens  # hidden reasoning: time passes, nothing is streamed
        self.built.reasoning_tokens += spec.tokens
        summary: list[dict[str, str]] = []
        for s_index, text in enumerate(spec.summary):
            where = {"item_id": item_id, "output_index": index, "summary_index": s_index}
            self._emit(
                {
                    "type": "response.reasoning_summary_part.added",
                    **where,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            for delta, cost in self._deltas(text):
                self._tokens += cost
                self.built.reasoning_tokens += cost
                self._emit(
                    {"type": "response.reasoning_summary_text.delta", **where, "delta": delta}
                )
            self._emit({"type": "response.reasoning_summary_text.done", **where, "text": text})
            part = {"type": "summary_text", "text": text}
            self._emit({"type": "response.reasoning_summary_part.done", **where, "part": part})
            summary.append(part)
        done: dict[str, Any] = {**item, "summary": summary}
        encrypted = spec.encrypted_content or _opaque_reasoning(item_id, spec.summary)
        if self._include_encrypted:
            done["encrypted_content"] = encrypted
        self._emit({"type": "response.output_item.done", "output_index": index, "item": done})
        # The server's own memory of the item always holds the reasoning, as the real
        # service's does; only what is *sent* depends on ``include``.
        self.built.output.append(
            done if self._include_encrypted else {**done, "encrypted_content": encrypted}
        )

    # -- the end -----------------------------------------------------------------------

    @property
    def output_tokens(self) -> int:
        return self._tokens

    def finish(
        self,
        turn: Turn,
        usage: dict[str, Any],
        completed_at: float,
    ) -> dict[str, Any]:
        """Emit the terminal event and return the final response object."""
        self.built.output_tokens = self._tokens
        final = dict(self._response)
        final["output"] = self.sent_output()
        final["usage"] = usage
        if turn.status == "error":
            self._emit(
                {
                    "type": "error",
                    "code": turn.error.code,
                    "message": turn.error.message,
                    "param": None,
                }
            )
            final["status"] = "failed"
            final["error"] = {"code": turn.error.code, "message": turn.error.message}
            return final
        if turn.status == "failed":
            final["status"] = "failed"
            final["error"] = {"code": turn.error.code, "message": turn.error.message}
            self._emit({"type": "response.failed", "response": final})
        elif turn.status == "incomplete":
            final["status"] = "incomplete"
            final["incomplete_details"] = {"reason": turn.incomplete_reason}
            self._emit({"type": "response.incomplete", "response": final})
        else:
            final["status"] = "completed"
            final["completed_at"] = completed_at
            self._emit({"type": "response.completed", "response": final})
        return final

    def sent_output(self) -> list[dict[str, Any]]:
        """The output as the client receives it (``encrypted_content`` only if included)."""
        if self._include_encrypted:
            return list(self.built.output)
        return [
            {k: v for k, v in item.items() if k != "encrypted_content"}
            if item.get("type") == "reasoning"
            else item
            for item in self.built.output
        ]


def _opaque_reasoning(item_id: str, summary: list[str]) -> str:
    digest = hashlib.sha256("\x00".join([item_id, *summary]).encode()).hexdigest()
    return "twmock-reasoning." + digest
