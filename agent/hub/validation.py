"""Checking tool results against their output schemas without paying for it on every call.

The MCP SDK's client checks every ``structuredContent`` against the tool's ``outputSchema``
with the pure-Python ``jsonschema`` package: 2.4 ms for a 100-match search page, 6 ms for a
100-file patch summary. That is more than the tool call itself costs, and the hub pays it on
every turn. :class:`HubClient` keeps the SDK's check and its messages, but answers the common
case (the content is valid) with a compiled native validator (``jsonschema-rs``, ~15 µs for the
same page). Only content the fast validator rejects goes on to the SDK's own check, which then
produces exactly the error the SDK would have raised; if the two disagree, the SDK's verdict
stands, so the fast path can never reject what the SDK accepts.

A schema ``jsonschema-rs`` cannot compile (or the package missing on an unusual platform)
simply leaves that tool on the SDK's check. References are resolved within the schema only,
as the SDK does: nothing is fetched over the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any, cast

from mcp import Client
from mcp.client.session import ClientSession
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher

from agent.hub.fastcall import FastToolCalls
from agent.hub.stdio import StdioTransport
from servers.common.schema import compile_fast

Validator = Any
"""A ``jsonschema`` validator (the package ships no type information)."""


class _FastFirst:
    """Quacks like the ``jsonschema`` validator the SDK expects: no errors when the compiled
    validator accepts, else the SDK validator's own errors (so its message is unchanged)."""

    def __init__(self, slow: Validator, fast: Any) -> None:
        self.slow = slow
        self.fast = fast

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        if self.fast.is_valid(instance):
            return iter(())
        return cast("Iterator[Any]", self.slow.iter_errors(instance))


class FastValidationSession(ClientSession):
    """``ClientSession`` whose output-schema validator tries the compiled check first."""

    _fast_validators: dict[str, tuple[Validator, _FastFirst | None]]

    def _output_schema_validator(self, name: str, output_schema: dict[str, Any]) -> Validator:
        # The SDK caches its validator per tool and replaces it when the schema changes; ours
        # follows it by identity, so a changed schema is compiled again.
        slow = super()._output_schema_validator(name, output_schema)
        cache = self.__dict__.setdefault("_fast_validators", {})
        entry = cache.get(name)
        if entry is None or entry[0] is not slow:
            fast = compile_fast(output_schema)
            entry = (slow, None if fast is None else _FastFirst(slow, fast))
            cache[name] = entry
        return slow if entry[1] is None else entry[1]


class HubClient(Client):
    """``mcp.Client`` whose session is a :class:`FastValidationSession` and, over the hub's
    :class:`~agent.hub.stdio.StdioTransport`, sends ``tools/call`` through
    :class:`~agent.hub.fastcall.FastToolCalls`.

    The SDK builds its ``ClientSession`` inside ``Client``; rather than copy that constructor
    call (and drift from it), the built session's class is narrowed to the subclass, which adds
    behaviour only and no state of its own at construction. The dispatcher is wrapped after the
    session has wired itself to the SDK's one, which it keeps using underneath.
    """

    lean_tool_calls = True
    """False keeps every request on the SDK's dispatcher (for comparisons)."""

    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        session.__class__ = FastValidationSession
        inner = session._dispatcher
        if (
            self.lean_tool_calls
            and isinstance(self.server, StdioTransport)
            and isinstance(inner, JSONRPCDispatcher)
        ):
            session._dispatcher = FastToolCalls(inner, self.server)
        return session


__all__ = ["FastValidationSession", "HubClient", "compile_fast"]
