"""The agent loop: ask the model, run the tools it calls, repeat until it answers.

One turn:

1. stream a response for the current history (text shown as it arrives);
2. commit each output item as it completes (``response.output_item.done``): appended to the
   history and to the session file at once, reasoning items verbatim so they can be replayed;
3. run every function call of the turn through the hub, concurrently, asking for approval
   first where the policy says so, and append the outputs in call order;
4. stop when a response has no function calls (the answer), or at the turn limit.

Before a request, compaction runs if the last response's ``input_tokens`` passed the
threshold. A stream that breaks after some items completed is not retried by the transport
(see :mod:`agent.model.base`); the loop keeps what completed, drops a reasoning item left
without its follow-up, runs the calls that did arrive, and goes on with a new request.

The hot path is small on purpose: per event one string comparison chain, per item one JSON
encoding (reused by every later request and by the session file), per turn one request
body assembled from bytes. Everything the loop shows goes through an :class:`Observer`, so
the terminal UI, ``--json`` and the benchmarks (which observe nothing) share the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import anyio
from anyio.abc import TaskGroup

from agent.approval import Approver, Hints, Request, denied_output
from agent.compaction import Compactor
from agent.compaction import Result as CompactionResult
from agent.model.base import Transport
from agent.model.errors import ContextWindowExceededError, ModelError, StreamInterruptedError
from agent.model.request import History, Item, RequestTemplate
from agent.prompt import BASE_INSTRUCTIONS, message_text, user_message
from agent.session import INTERRUPTED_OUTPUT, Session, Totals
from schemas.responses import INCLUDE_REASONING_ENCRYPTED

Status = Literal["completed", "incomplete", "max_turns", "failed", "interrupted"]

MAX_INTERRUPTIONS = 3
"""Broken streams in a row (each after partial output) before the run gives up."""


class CallResult(Protocol):
    """What the hub returns for a routed call (:class:`agent.hub.CallOutcome`)."""

    @property
    def item(self) -> Any: ...

    @property
    def is_error(self) -> bool: ...

    @property
    def seconds(self) -> float: ...


class Tools(Protocol):
    """The part of :class:`agent.hub.Hub` the loop uses."""

    @property
    def revision(self) -> int: ...

    @property
    def tools_json(self) -> str: ...

    def annotations(self, name: str) -> Hints | None: ...

    async def call_detailed(self, name: str, arguments: str, call_id: str) -> CallResult: ...


class Observer:
    """Receives everything the loop does. Every method is a no-op here; the CLI overrides
    what it shows. Methods are synchronous and must be quick: they run on the hot path."""

    def turn_started(self, turn: int) -> None: ...

    def text_delta(self, delta: str) -> None: ...

    def reasoning_delta(self, delta: str) -> None: ...

    def item_completed(self, item: Item) -> None: ...

    def retrying(self, attempt: int, delay: float, reason: str) -> None: ...

    def interrupted_stream(self, error: ModelError) -> None: ...

    def response_completed(self, response: dict[str, Any], totals: Totals) -> None: ...

    def tool_started(self, call: Item) -> None: ...

    def tool_finished(self, call: Item, output: Item, is_error: bool, seconds: float) -> None: ...

    def tool_denied(self, call: Item, reason: str) -> None: ...

    def compaction_started(self, kind: str, input_tokens: int | None) -> None: ...

    def compaction_finished(self, result: CompactionResult) -> None: ...

    def compaction_failed(self, error: Exception) -> None: ...

    def notice(self, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AgentConfig:
    model: str
    instructions: str = BASE_INSTRUCTIONS
    max_turns: int = 200
    prompt_cache_key: str | None = None
    encrypted_reasoning: bool = True
    reasoning: dict[str, Any] | None = None
    parallel_tool_calls: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunResult:
    status: Status
    final_text: str = ""
    turns: int = 0
    error: str | None = None
    totals: Totals = field(default_factory=Totals)


@dataclass(slots=True)
class _Turn:
    """What one response produced so far (kept by the loop if the stream breaks)."""

    calls: list[Item] = field(default_factory=list)
    outputs: list[Item | None] = field(default_factory=list)
    """One per call, in call order; filled as the calls finish."""
    texts: list[str] = field(default_factory=list)
    response: dict[str, Any] | None = None
    incomplete: str | None = None


class Agent:
    """Runs the loop over one session's history. Not reentrant: one run at a time."""

    def __init__(
        self,
        *,
        transport: Transport,
        tools: Tools,
        history: History,
        context_count: int,
        config: AgentConfig,
        session: Session,
        approver: Approver,
        compactor: Compactor | None = None,
        observer: Observer | None = None,
        totals: Totals | None = None,
    ) -> None:
        self.transport = transport
        self.tools = tools
        self.history = history
        self.context_count = context_count
        self.config = config
        self.session = session
        self.approver = approver
        self.compactor = compactor
        self.observer = observer or Observer()
        self.totals = totals or Totals()
        self.last_input_tokens: int | None = None
        self._template: RequestTemplate | None = None
        self._tools_revision = -1

    # -- the request template ------------------------------------------------------------

    def template(self) -> RequestTemplate:
        """The template for the current tools (rebuilt only when the hub's tools change)."""
        revision = self.tools.revision
        template = self._template
        if template is None or revision != self._tools_revision:
            config = self.config
            template = RequestTemplate(
                model=config.model,
                instructions=config.instructions,
                tools=self.tools.tools_json.encode(),
                store=False,
                include=(INCLUDE_REASONING_ENCRYPTED,) if config.encrypted_reasoning else (),
                prompt_cache_key=config.prompt_cache_key,
                reasoning=config.reasoning,
                parallel_tool_calls=config.parallel_tool_calls,
                extra=config.extra,
            )
            self._template = template
            self._tools_revision = revision
        return template

    @property
    def context(self) -> list[Item]:
        return self.history.items[: self.context_count]

    # -- history -------------------------------------------------------------------------

    def _commit(self, item: Item) -> None:
        self.session.append_item(self.history.append(item))

    def add_user_message(self, text: str) -> None:
        self._commit(user_message(text))

    def _rewrite(self, reason: str, items: Sequence[Item], **extra: Any) -> None:
        self.history.replace(items)
        self.session.rewrite(reason, self.history.items, **extra)

    def _drop_dangling_reasoning(self) -> None:
        items = self.history.items
        end = len(items)
        while end > self.context_count and items[end - 1].get("type") == "reasoning":
            end -= 1
        if end < len(items):
            self._rewrite("repair", items[:end])

    def close_interrupted(self) -> None:
        """After a cancelled run: give every call without an output one that says so, so
        the history (and the session file) is valid for the next request."""
        answered = {
            i.get("call_id") for i in self.history.items if i.get("type") == "function_call_output"
        }
        self._drop_dangling_reasoning()
        for item in list(self.history.items):
            if item.get("type") == "function_call" and item.get("call_id") not in answered:
                self._commit(
                    {
                        "type": "function_call_output",
                        "call_id": item["call_id"],
                        "output": INTERRUPTED_OUTPUT,
                    }
                )

    # -- the loop ------------------------------------------------------------------------

    async def run(self, task: str | None = None) -> RunResult:
        """Add ``task`` as a user message (if given) and loop until the model answers."""
        if task is not None:
            self.add_user_message(task)
        turns = 0
        broken = 0
        observer = self.observer
        while True:
            if turns >= self.config.max_turns:
                return RunResult(
                    "max_turns",
                    turns=turns,
                    error=f"stopped after {turns} turns (--max-turns)",
                    totals=self.totals,
                )
            if self.compactor is not None and self.compactor.due(self.last_input_tokens):
                await self.compact()
            observer.turn_started(turns + 1)
            turn = _Turn()
            try:
                await self._turn(turn)
            except StreamInterruptedError as error:
                broken += 1
                observer.interrupted_stream(error)
                if broken > MAX_INTERRUPTIONS:
                    raise
                self._drop_dangling_reasoning()
            except ContextWindowExceededError:
                if self.compactor is None or self.last_input_tokens is None:
                    raise
                self.last_input_tokens = None
                await self.compact()
                continue
            else:
                broken = 0
            turns += 1
            if turn.calls:
                continue  # their outputs are in the history: the model goes on
            if turn.response is None:
                continue  # broken before anything usable: ask again
            text = "\n\n".join(turn.texts)
            if turn.incomplete is not None:
                return RunResult(
                    "incomplete",
                    final_text=text,
                    turns=turns,
                    error=f"the response was incomplete: {turn.incomplete}",
                    totals=self.totals,
                )
            return RunResult("completed", final_text=text, turns=turns, totals=self.totals)

    async def _turn(self, turn: _Turn) -> None:
        """Stream one response and run its calls; outputs are committed in call order.

        Each call starts the moment its item completes, while the rest of the response is
        still streaming (a second call's arguments, the final events), so a turn with calls
        costs the stream plus the slowest call rather than their sum. If the stream breaks
        after some calls completed (:class:`StreamInterruptedError`), those calls still run
        to the end and their outputs are kept; any other failure cancels them.
        """
        failure: BaseException | None = None
        async with anyio.create_task_group() as tg:
            try:
                await self._stream(turn, tg)
            except StreamInterruptedError as error:
                failure = error
            except BaseException as error:
                tg.cancel_scope.cancel()
                failure = error
        outputs = [o for o in turn.outputs if o is not None]
        if outputs:
            self.session.append_items([self.history.append(o) for o in outputs])
        if failure is not None:
            raise failure

    async def _stream(self, turn: _Turn, tg: TaskGroup) -> None:
        observer = self.observer
        history = self.history
        session = self.session
        calls = turn.calls
        async with aclosing(self.transport.stream(self.template(), history)) as events:
            async for typed in events:
                event: dict[str, Any] = typed  # type: ignore[assignment]
                kind = event["type"]
                if kind == "response.output_text.delta":
                    observer.text_delta(event["delta"])
                elif kind == "response.output_item.done":
                    item: Item = event["item"]
                    session.append_item(history.append(item))
                    item_type = item["type"]
                    if item_type == "function_call":
                        calls.append(item)
                        turn.outputs.append(None)
                        tg.start_soon(self._call_into, turn.outputs, len(calls) - 1, item)
                    elif item_type == "message":
                        text = message_text(item)
                        if text:
                            turn.texts.append(text)
                    observer.item_completed(item)
                elif kind == "response.reasoning_summary_text.delta":
                    observer.reasoning_delta(event["delta"])
                elif kind == "response.completed" or kind == "response.incomplete":
                    response: dict[str, Any] = event["response"]
                    turn.response = response
                    if kind == "response.incomplete":
                        details = response.get("incomplete_details") or {}
                        turn.incomplete = str(details.get("reason") or "unknown reason")
                    usage = response.get("usage")
                    self.totals.add(usage)
                    if usage:
                        self.last_input_tokens = usage.get("input_tokens")
                    session.record("turn", response_id=response.get("id"), usage=usage)
                    observer.response_completed(response, self.totals)
                elif kind == "toolwire.retry":
                    observer.retrying(event["attempt"], event["delay"], event["reason"])

    async def _call_into(self, outputs: list[Item | None], index: int, call: Item) -> None:
        outputs[index] = await self._call(call)

    async def _call(self, call: Item) -> Item:
        name: str = call["name"]
        arguments: str = call.get("arguments") or ""
        call_id: str = call["call_id"]
        hints = self.tools.annotations(name)
        if self.approver.holds(name, hints):
            decision = await self.approver.decide(Request(name, arguments, call_id), hints)
            if not decision.approved:
                self.observer.tool_denied(call, decision.reason)
                return {
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": denied_output(name, decision.reason),
                }
        self.observer.tool_started(call)
        outcome = await self.tools.call_detailed(name, arguments, call_id)
        item: Item = outcome.item
        self.observer.tool_finished(call, item, outcome.is_error, outcome.seconds)
        return item

    async def compact(self) -> None:
        """Compact now (see :mod:`agent.compaction`); a failure is reported, not fatal: the
        threshold leaves room for the next request."""
        compactor = self.compactor
        if compactor is None:
            return
        self.observer.compaction_started(
            "remote" if compactor.remote else "handoff", self.last_input_tokens
        )
        try:
            result = await compactor.compact(
                self.transport, self.template(), self.history, self.context
            )
        except Exception as error:  # any failure: keep going uncompacted
            self.observer.compaction_failed(error)
            self.last_input_tokens = None
            return
        self._rewrite("compaction", result.items, kind=result.kind)
        self.last_input_tokens = None
        self.session.record("compaction", kind=result.kind, before_items=result.before_items)
        self.observer.compaction_finished(result)
