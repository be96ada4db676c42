"""Compaction: keep a long session inside the context window without losing the thread.

Triggered when a response reports ``usage.input_tokens`` at or above the threshold (by
default 90% of the model's context window), before the next request goes out. Two ways:

**Remote** (``POST /responses/compact``, where the provider has it). The whole history goes
to the endpoint, which answers with the user's messages plus one opaque ``compaction`` item
that stands for everything else; that answer, after the initial context, is the new history.
Nothing is lost that the model could use, and it costs one request.

**Hand-off** (everywhere else, and the fallback when the endpoint is missing). The model is
asked, with the history as it stands, for a hand-off summary (:data:`agent.prompt.
HANDOFF_SUMMARY_PROMPT`). The new history is the initial context, the user's own messages
(the most recent ones that fit ``user_budget_tokens``), the summary as a user message, and
then the pending exchange: the last turn's calls and their outputs, which the model has not
seen yet. Keeping that tail (when it fits ``tail_budget_tokens``) means the next turn
continues from the results it was waiting for instead of repeating the calls.

Either way the history gets a new epoch, so the WebSocket transport sends it in full once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent.model.base import Transport
from agent.model.errors import ModelError
from agent.model.request import History, Item, RequestTemplate, encode
from agent.prompt import (
    HANDOFF_PREFIX,
    HANDOFF_SUMMARY_PROMPT,
    message_text,
    user_message,
    user_texts,
)
from schemas.responses import MODEL_ITEM_TYPES, TOOL_OUTPUT_ITEM_TYPES

BYTES_PER_TOKEN = 4
"""For budgets only: the usual estimate for English and JSON."""

UNSUPPORTED_STATUSES = frozenset({404, 405, 501})
"""Answers from ``/responses/compact`` meaning "not here": switch to hand-off for good."""


class Mode(StrEnum):
    AUTO = "auto"
    REMOTE = "remote"
    HANDOFF = "handoff"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Settings:
    context_window: int
    threshold_ratio: float = 0.9
    threshold_tokens: int | None = None
    """Explicit threshold; overrides ``threshold_ratio``."""
    mode: Mode = Mode.AUTO
    user_budget_tokens: int = 20_000
    tail_budget_tokens: int = 20_000

    @property
    def threshold(self) -> int:
        if self.threshold_tokens is not None:
            return self.threshold_tokens
        return math.floor(self.context_window * self.threshold_ratio)


@dataclass(frozen=True, slots=True)
class Result:
    kind: str
    """``remote`` or ``handoff``."""
    items: list[Item]
    before_items: int
    before_bytes: int
    after_bytes: int
    summary: str | None = None


class CompactionError(Exception):
    pass


def is_model_item(item: Item) -> bool:
    kind = item.get("type", "message")
    if kind == "message":
        return item.get("role") == "assistant"
    return kind in MODEL_ITEM_TYPES


def pending_tail(items: Sequence[Item]) -> list[Item]:
    """The last model turn and the tool outputs after it, when the history ends with tool
    outputs the model has not seen yet; otherwise nothing."""
    end = len(items)
    index = end
    while index > 0 and items[index - 1].get("type") in TOOL_OUTPUT_ITEM_TYPES:
        index -= 1
    if index == end:
        return []
    while index > 0 and is_model_item(items[index - 1]):
        index -= 1
    tail = list(items[index:])
    return tail if tail and is_model_item(tail[0]) else []


def _size(items: Sequence[Item]) -> int:
    return sum(len(encode(item)) for item in items)


def _keep_recent(items: Sequence[Item], budget_bytes: int) -> list[Item]:
    kept: list[Item] = []
    used = 0
    for item in reversed(items):
        size = _size([item])
        if used + size > budget_bytes and kept:
            break
        kept.append(item)
        used += size
    kept.reverse()
    return kept


class Compactor:
    """Decides when to compact and does it, remote or hand-off (see module docstring)."""

    def __init__(self, settings: Settings, *, remote_available: bool) -> None:
        self.settings = settings
        self._remote = settings.mode in (Mode.AUTO, Mode.REMOTE) and (
            remote_available or settings.mode is Mode.REMOTE
        )

    @property
    def remote(self) -> bool:
        return self._remote

    def due(self, input_tokens: int | None) -> bool:
        if self.settings.mode is Mode.OFF or input_tokens is None:
            return False
        return input_tokens >= self.settings.threshold

    async def compact(
        self,
        transport: Transport,
        template: RequestTemplate,
        history: History,
        context: Sequence[Item],
    ) -> Result:
        """Compute the compacted history (the caller installs it)."""
        if self._remote:
            try:
                return await self._remote_compact(transport, template, history, context)
            except ModelError as error:
                if error.status not in UNSUPPORTED_STATUSES or self.settings.mode is Mode.REMOTE:
                    raise
                self._remote = False  # no endpoint here: hand-off from now on
        return await self._handoff(transport, template, history, context)

    async def _remote_compact(
        self,
        transport: Transport,
        template: RequestTemplate,
        history: History,
        context: Sequence[Item],
    ) -> Result:
        answer = await transport.compact(template, history)
        output: Any = answer.get("output")
        if not isinstance(output, list) or not any(
            isinstance(i, dict) and i.get("type") == "compaction" for i in output
        ):
            raise CompactionError("the compaction endpoint returned no compaction item")
        context_texts = {message_text(item) for item in context}
        kept: list[Item] = list(context)
        for item in output:
            if not isinstance(item, dict):
                continue
            if item.get("type", "message") == "message":
                if item.get("role") in ("developer", "system"):
                    continue  # the initial context already says it
                if message_text(item) in context_texts:
                    continue
            kept.append(item)
        return Result(
            kind="remote",
            items=kept,
            before_items=len(history),
            before_bytes=history.size(),
            after_bytes=_size(kept),
        )

    async def _handoff(
        self,
        transport: Transport,
        template: RequestTemplate,
        history: History,
        context: Sequence[Item],
    ) -> Result:
        summary = await self.summarize(transport, template, history)
        users = _keep_recent(
            user_texts(history.items[len(context) :], context),
            self.settings.user_budget_tokens * BYTES_PER_TOKEN,
        )
        tail = pending_tail(history.items)
        if _size(tail) > self.settings.tail_budget_tokens * BYTES_PER_TOKEN:
            tail = []
        items: list[Item] = [*context, *users, user_message(HANDOFF_PREFIX + summary), *tail]
        return Result(
            kind="handoff",
            items=items,
            before_items=len(history),
            before_bytes=history.size(),
            after_bytes=_size(items),
            summary=summary,
        )

    @staticmethod
    async def summarize(transport: Transport, template: RequestTemplate, history: History) -> str:
        """Ask the model for the hand-off summary (same template, so the cached prefix is
        reused; the question is one more user message)."""
        request = history.copy()
        request.append(user_message(HANDOFF_SUMMARY_PROMPT))
        texts: list[str] = []
        async with aclosing(transport.stream(template, request)) as events:
            async for event in events:
                if event["type"] == "toolwire.retry":
                    texts.clear()
                elif event["type"] == "response.output_item.done":
                    item = event["item"]
                    if item["type"] == "message" and item.get("role") == "assistant":
                        text = message_text(item)
                        if text:
                            texts.append(text)
        summary = "\n\n".join(texts).strip()
        if not summary:
            raise CompactionError("the model returned no hand-off summary")
        return summary
