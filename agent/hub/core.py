"""The hub: every configured MCP server behind one ``tools`` array and one ``call``.

    async with Hub.start(settings) as hub:
        request["tools"] = hub.tools            # or splice hub.tools_json into the body
        item = await hub.call(name, arguments_json, call_id)   # a function_call_output

``Hub.start`` launches every enabled server concurrently and returns as soon as each one has a
tool list — from the schema cache if it has one, else live — or has failed. With a warm cache
that is before any server process has even started; calls then wait for their server.
Servers marked ``required`` are always waited for, and their failure fails the start.

A call never raises for anything the model could have caused or could learn from: unknown
tools, malformed arguments, timeouts, crashed servers and tool errors all come back as a
``function_call_output`` whose text starts with ``ERROR:`` and says what to do. Cancelling a
call (the user interrupts) does raise, and the server is told (``notifications/cancelled``).
"""

from __future__ import annotations

import difflib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import Client
from mcp_types import ToolAnnotations

from agent.config import Settings
from agent.hub.cache import SchemaCache
from agent.hub.connection import CallError, ServerConnection, ServerStatus
from agent.hub.merge import EMPTY, Merged, ServerTools, ToolEntry, merge
from agent.hub.naming import SEPARATOR, sanitize
from agent.hub.results import Output, error_text, output_item, render
from agent.hub.strict import restore_arguments
from schemas.responses import FunctionCall, FunctionCallOutput, FunctionTool

logger = logging.getLogger(__name__)


class HubStartError(RuntimeError):
    """A ``required`` server failed to start; the message names each one and why."""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A routed call: the item for the model plus what the loop and the UI want to know."""

    item: FunctionCallOutput
    is_error: bool
    tool: ToolEntry | None
    seconds: float

    @property
    def output(self) -> Output:
        return self.item["output"]


class Hub:
    """Use :meth:`start`; the constructor alone starts nothing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cache = SchemaCache(settings.cache_dir) if settings.schema_cache else None
        self._connections = {
            config.name: ServerConnection(config, settings, cache, self._tools_changed)
            for config in settings.servers
        }
        self._merged: Merged = EMPTY
        self._max_output = settings.max_output_bytes
        self.revision = 0
        """Bumped whenever :attr:`tools` changes (a server came up different, or changed)."""
        self._changed = anyio.Event()
        self._tg: TaskGroup | None = None

    # ---------------------------------------------------------------- life cycle

    @classmethod
    @asynccontextmanager
    async def start(cls, settings: Settings, *, wait: bool = False) -> AsyncIterator[Hub]:
        """Start every enabled server; yield once the tool list is complete.

        ``wait=True`` waits until every server has started or failed (``toolwire tools``,
        benchmarks); the default returns as soon as cached tool lists make that unnecessary.
        """
        hub = cls(settings)
        try:
            async with anyio.create_task_group() as tg:
                hub._tg = tg
                try:
                    for connection in hub._connections.values():
                        connection.prepare()
                    hub._rebuild()
                    for connection in hub._connections.values():
                        connection.start(tg)
                    await hub._initial_wait(wait)
                    yield hub
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The task group wraps whatever the caller's block raised; hand it back as raised.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    async def _initial_wait(self, wait_all: bool) -> None:
        for connection in self._connections.values():
            cached = connection.tools is not None
            if wait_all or connection.config.required or not cached:
                await connection.settled.wait()
        failed = [
            c for c in self._connections.values() if c.config.required and c.status == "failed"
        ]
        if failed:
            lines = [f"required server '{c.name}' failed: {c.error}" for c in failed]
            for c in failed:
                if c.stderr:
                    lines.append(f"stderr of '{c.name}':\n{c.stderr}")
            raise HubStartError("\n".join(lines))

    async def wait_ready(self) -> None:
        """Wait until every enabled server has started or failed."""
        for connection in self._connections.values():
            await connection.settled.wait()

    async def wait_changed(self) -> None:
        """Return the next time :attr:`tools` changes."""
        await self._changed.wait()

    # ---------------------------------------------------------------- the merged tools

    def _tools_changed(self, _connection: ServerConnection) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        groups = [
            ServerTools(c.name, c.config.bundled, c.tools)
            for c in self._connections.values()
            if c.tools is not None
        ]
        merged = merge(groups)
        changed = merged.tools_json != self._merged.tools_json
        self._merged = merged  # annotations may change without the JSON changing
        if changed:
            self.revision += 1
            self._changed.set()
            self._changed = anyio.Event()

    @property
    def tools(self) -> list[FunctionTool]:
        """The Responses ``tools`` array. The same object until something changes: do not
        mutate it."""
        return self._merged.tools

    @property
    def tools_json(self) -> str:
        """:attr:`tools` serialized once (compact, UTF-8 safe), to splice into a request body."""
        return self._merged.tools_json

    @property
    def entries(self) -> tuple[ToolEntry, ...]:
        """Every tool with its server, original name, schema conversion and annotations."""
        return self._merged.entries

    def entry(self, name: str) -> ToolEntry | None:
        return self._merged.by_name.get(name)

    def annotations(self, name: str) -> ToolAnnotations | None:
        """The MCP annotations (read-only, destructive, ...) of a model-visible tool name."""
        entry = self._merged.by_name.get(name)
        return entry.annotations if entry is not None else None

    @property
    def servers(self) -> list[ServerStatus]:
        return [c.snapshot() for c in self._connections.values()]

    async def client(self, server: str) -> Client:
        """The live ``mcp.Client`` of ``server`` (waiting for it to start), for what the hub
        does not wrap: resources, prompts, subscriptions. Raises ``KeyError`` for an unknown
        server and :class:`~agent.hub.connection.CallError` when it is not available."""
        return await self._connections[server].client()

    # ---------------------------------------------------------------- routing

    async def call(self, name: str, arguments: str, call_id: str) -> FunctionCallOutput:
        """Run one ``function_call`` and return its ``function_call_output``."""
        return (await self.call_detailed(name, arguments, call_id)).item

    async def call_many(self, calls: Sequence[FunctionCall]) -> list[FunctionCallOutput]:
        """Run a turn's function calls concurrently; outputs come back in call order."""
        outputs: list[FunctionCallOutput | None] = [None] * len(calls)

        async def one(index: int, call: FunctionCall) -> None:
            outputs[index] = await self.call(call["name"], call["arguments"], call["call_id"])

        async with anyio.create_task_group() as tg:
            for index, call in enumerate(calls):
                tg.start_soon(one, index, call)
        return [o for o in outputs if o is not None]

    async def call_detailed(self, name: str, arguments: str, call_id: str) -> CallOutcome:
        began = time.perf_counter()
        entry = self._merged.by_name.get(name)
        if entry is None:
            return self._failure(call_id, self._unknown_tool(name), None, began)
        parsed = self._parse_arguments(entry, arguments)
        if isinstance(parsed, str):
            return self._failure(call_id, parsed, entry, began)
        if entry.schema.restore:
            parsed = restore_arguments(parsed, entry.input_schema)
        connection = self._connections[entry.server]
        try:
            result = await connection.call(
                entry.original, parsed, connection.config.tool_timeout_sec
            )
        except CallError as exc:
            return self._failure(call_id, str(exc), entry, began)
        output = render(result, max_bytes=self._max_output)
        return CallOutcome(
            output_item(call_id, output), result.is_error, entry, time.perf_counter() - began
        )

    def _parse_arguments(self, entry: ToolEntry, arguments: str) -> dict[str, Any] | str:
        """The arguments as a dict, or the error message for the model."""
        if not arguments.strip():
            return {}
        try:
            value = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return (
                f"the arguments for {entry.name} are not valid JSON ({exc.msg} at line "
                f"{exc.lineno} column {exc.colno}); send one JSON object matching its parameters"
            )
        if not isinstance(value, dict):
            kind = type(value).__name__
            return f"the arguments for {entry.name} must be a JSON object, not a {kind}"
        return value

    def _unknown_tool(self, name: str) -> str:
        for connection in self._connections.values():
            prefix = f"{sanitize(connection.name)}{SEPARATOR}"
            if connection.status == "failed" and name.startswith(prefix):
                return (
                    f"{name} belongs to server '{connection.name}', which is not available: "
                    f"{connection.error}"
                )
        names = list(self._merged.by_name)
        similar = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        if not similar:
            similar = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()]
        hint = f"; did you mean {', '.join(similar[:3])}?" if similar else ""
        down = [
            c.name for c in self._connections.values() if c.status == "failed" and c.config.enabled
        ]
        if down:
            hint += f" (servers not available: {', '.join(down)})"
        return f"there is no tool named {name!r}{hint}"

    def _failure(
        self, call_id: str, message: str, entry: ToolEntry | None, began: float
    ) -> CallOutcome:
        return CallOutcome(
            output_item(call_id, error_text(message)), True, entry, time.perf_counter() - began
        )
