"""The mock model itself, independent of transport.

:class:`MockModel` holds everything that outlives a request — the script, the latency
model, pending faults, the response store, the prompt cache, the memory of recent requests'
bytes (:mod:`agent.mockmodel.parsing`) and the records — and turns one validated request
into a :class:`Plan`: the events to send, when to send each, and what to remember. The
HTTP and WebSocket front ends in :mod:`agent.mockmodel.app` only move bytes and apply
faults, so both transports answer the same request identically.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.mockmodel import errors
from agent.mockmodel.cache import PromptCache
from agent.mockmodel.conversation import (
    EMPTY_CONTEXT,
    Context,
    Conversation,
    check_compaction_items,
    encode_compaction,
    user_messages,
)
from agent.mockmodel.events import BEFORE_OUTPUT, Event, IdMaker, StreamBuilder
from agent.mockmodel.faults import Fault, FaultPlan
from agent.mockmodel.jsontext import dumps, dumps_with
from agent.mockmodel.latency import LatencyModel
from agent.mockmodel.parsing import RequestMemo
from agent.mockmodel.prompt import header_bytes
from agent.mockmodel.records import Record, RecordLog
from agent.mockmodel.scripts import Script, Turn
from agent.mockmodel.tokens import cached_tokens, estimate_tokens, prefix_tokens
from agent.mockmodel.validation import CreateRequest, orphan_output

_WARM_UP = Turn()


@dataclass(slots=True)
class Plan:
    """One response, ready to send."""

    response_id: str
    events: list[Event]
    times_ms: list[float]
    """When each event is due, in ms after the request arrived (non-decreasing)."""
    final: dict[str, Any]
    """The finished response object (the non-streaming body)."""
    status: str
    conversation: Conversation
    """The context to continue from with ``previous_response_id``."""
    tools: list[Any]
    """The request's ``tools``, which every response object in :attr:`events` echoes..."""
    tools_json: str
    """... and their JSON, spliced into each such object rather than encoded again."""

    def event_json(self, event: Event) -> str:
        """An event as compact JSON text."""
        response = event.get("response")
        if isinstance(response, dict) and response.get("tools") is self.tools:
            return dumps_with(event, "response", self.response_json(response))
        return dumps(event)

    def response_json(self, response: dict[str, Any]) -> str:
        """A response object of this plan (e.g. :attr:`final`) as compact JSON text."""
        return dumps_with(response, "tools", self.tools_json)


@dataclass(slots=True)
class Prompt:
    """What the model reads for a request, and what it costs."""

    context: Context
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int


class MockModel:
    """State and decisions shared by every connection of one mock server."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        latency: LatencyModel | None = None,
        faults: Iterable[Fault] = (),
        record: str | Path | None = None,
        record_bodies: bool = False,
        keep_bodies: bool = True,
        websocket: bool = True,
        ws_max_age: float = 3600.0,
        store_capacity: int = 1024,
    ) -> None:
        self.script = script if script is not None else Script()
        self.latency = latency or self.script.latency or LatencyModel()
        self.faults = FaultPlan([*self.script.faults, *faults])
        self.records = RecordLog(record, include_bodies=record_bodies)
        self.keep_bodies = keep_bodies or record_bodies
        """Keep each parsed request on its record (off for long benchmarks with big inputs,
        where holding every body would grow memory without bound)."""
        self.cache = PromptCache()
        self.memo = RequestMemo()
        """What recent requests' bytes parsed to (see :mod:`agent.mockmodel.parsing`)."""
        self.ids = IdMaker()
        self.websocket = websocket
        """Accept WebSocket upgrades; when False they are refused with 426."""
        self.ws_max_age = ws_max_age
        """Seconds a WebSocket may live before ``websocket_connection_limit_reached``."""
        self._store: OrderedDict[str, Conversation] = OrderedDict()
        self._store_capacity = store_capacity
        self._lock = threading.Lock()
        self._requests = 0
        self._connections = 0

    # -- counters and the store --------------------------------------------------------

    def next_request(self) -> int:
        with self._lock:
            self._requests += 1
            return self._requests

    def next_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def stored(self, response_id: str) -> Conversation | None:
        """A response kept with ``store: true`` (the server-wide store)."""
        return self._store.get(response_id)

    def remember(self, conversation: Conversation) -> None:
        self._store[conversation.response_id] = conversation
        if len(self._store) > self._store_capacity:
            self._store.popitem(last=False)

    def resolve_previous(
        self, response_id: str | None, connection_cache: Conversation | None = None
    ) -> Conversation | None:
        """The context behind ``previous_response_id``: the WebSocket connection's cached
        response first, then the store; ``previous_response_not_found`` otherwise."""
        if response_id is None:
            return None
        if connection_cache is not None and connection_cache.response_id == response_id:
            return connection_cache
        found = self.stored(response_id)
        if found is None:
            raise errors.previous_response_not_found(response_id)
        return found

    # -- planning ----------------------------------------------------------------------

    def _prompt(self, req: CreateRequest, previous: Conversation | None) -> Prompt:
        """The request's context (continuing ``previous`` or an input the request repeats,
        so that only new items cost anything), checked, costed and remembered."""
        known = req.known_input
        checked = len(known.context.items) if known is not None else 0
        check_compaction_items(req.items, start=checked)
        if previous is not None:
            context = previous.context.extend(req.items)
        elif known is not None:
            context = known.context.extend(req.items[checked:])
        else:
            context = EMPTY_CONTEXT.extend(req.items)
        if context.facts.orphan_call_id is not None:
            raise orphan_output(context.facts.orphan_call_id)
        if previous is None and req.input_head is not None:
            self.memo.remember_input(req.input_head, context)
        prompt = header_bytes(req.instructions, req.tools_json) + context.blob
        input_tokens = estimate_tokens(len(prompt))
        cached = min(self.cache.lookup(req.prompt_cache_key, prompt), input_tokens)
        cacheable = cached_tokens(prefix_tokens(len(prompt)))
        return Prompt(
            context=context,
            input_tokens=input_tokens,
            cached_tokens=cached,
            cache_write_tokens=max(0, cacheable - cached),
        )

    def plan(self, req: CreateRequest, previous: Conversation | None, record: Record) -> Plan:
        """Decide the response to ``req`` (which continues ``previous``, if given)."""
        prompt = self._prompt(req, previous)
        record.context_items = len(prompt.context.items)
        record.input_tokens = prompt.input_tokens
        record.cached_tokens = prompt.cached_tokens

        response_id = self.ids.new("resp")
        builder = StreamBuilder(
            self.ids,
            self._response_object(response_id, req),
            per_delta=self.latency.tokens_per_delta,
            include_encrypted_reasoning=req.include_encrypted_reasoning,
        )
        builder.start()
        if req.generate:
            facts = prompt.context.facts
            selection = self.script.select(facts.turns, facts.recent_outputs)
            turn, record.turn = selection.turn, selection.source
        else:
            turn = _WARM_UP
        builder.add_turn(turn)
        output_tokens = builder.output_tokens
        usage = {
            "input_tokens": prompt.input_tokens,
            "input_tokens_details": {
                "cached_tokens": prompt.cached_tokens,
                "cache_write_tokens": prompt.cache_write_tokens,
            },
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": builder.built.reasoning_tokens},
            "total_tokens": prompt.input_tokens + output_tokens,
        }
        final = builder.finish(turn, usage, completed_at=int(time.time()))
        record.output_tokens = output_tokens
        record.response_id = response_id

        built = builder.built
        conversation = Conversation(response_id, prompt.context.extend(built.output))
        if req.store and turn.status != "error":
            self.remember(conversation)
        return Plan(
            response_id=response_id,
            events=built.events,
            times_ms=self._times(built.offsets, prompt, has_output=bool(turn.output)),
            final=final,
            status=turn.status,
            conversation=conversation,
            tools=req.tools,
            tools_json=req.tools_json,
        )

    def _times(self, offsets: list[int], prompt: Prompt, *, has_output: bool) -> list[float]:
        lat = self.latency
        if lat.is_instant:
            return [0.0] * len(offsets)
        start = lat.overhead_ms
        prefill = lat.prefill_ms(prompt.input_tokens, prompt.cached_tokens)
        first = start + prefill + (lat.ttft_ms if has_output else 0.0)
        per_token = lat.token_ms()
        return [start if off == BEFORE_OUTPUT else first + off * per_token for off in offsets]

    def compact(
        self, req: CreateRequest, previous: Conversation | None, record: Record
    ) -> tuple[dict[str, Any], float]:
        """``POST /v1/responses/compact``: the user messages of the conversation and one
        compaction item that stands for the rest. Returns the body and its delay in ms."""
        prompt = self._prompt(req, previous)
        context = prompt.context
        record.context_items = len(context.items)
        record.input_tokens = prompt.input_tokens
        record.cached_tokens = prompt.cached_tokens
        blob = encode_compaction(context.facts.turns, context.items)
        item = {"id": self.ids.new("cmp"), "type": "compaction", "encrypted_content": blob}
        output_tokens = estimate_tokens(len(blob))
        record.output_tokens = output_tokens
        response_id = self.ids.new("resp")
        record.response_id = response_id
        body = {
            "id": response_id,
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [*user_messages(context.items), item],
            "usage": {
                "input_tokens": prompt.input_tokens,
                "input_tokens_details": {
                    "cached_tokens": prompt.cached_tokens,
                    "cache_write_tokens": prompt.cache_write_tokens,
                },
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt.input_tokens + output_tokens,
            },
        }
        lat = self.latency
        delay = lat.first_output_ms(prompt.input_tokens, prompt.cached_tokens)
        delay += output_tokens * lat.token_ms()
        return body, delay

    @staticmethod
    def _response_object(response_id: str, req: CreateRequest) -> dict[str, Any]:
        """The response as ``response.created`` shows it; request settings are echoed."""
        body = req.body
        reasoning = body.get("reasoning") or {}
        return {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": req.instructions,
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": req.model,
            "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": req.previous_response_id,
            "prompt_cache_key": req.prompt_cache_key,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "safety_identifier": body.get("safety_identifier"),
            "service_tier": "default",
            "store": req.store,
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": req.tools,
            "top_logprobs": body.get("top_logprobs", 0),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": None,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }
