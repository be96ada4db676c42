"""Shared pieces for the agent tests: in-memory tools, an agent builder, record readers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from agent.approval import Annotations, Approver, Policy
from agent.compaction import Compactor
from agent.loop import Agent, AgentConfig, Observer
from agent.model import PRESETS, History, RetryPolicy, Transport, make_transport
from agent.model.providers import TransportChoice
from agent.prompt import Environment, initial_context
from agent.session import Session

FAST_RETRY = RetryPolicy(max_retries=4, base_delay=0.01, max_delay=0.05, jitter=0.1)
ENV = Environment(cwd=Path("/work"), shell="bash", os="Linux", date="2025-01-01", timezone="UTC")


@dataclass
class Outcome:
    item: dict[str, Any]
    is_error: bool
    seconds: float


Handler = Callable[[dict[str, Any]], Awaitable[str] | str]


@dataclass
class FakeTools:
    """The :class:`agent.loop.Tools` protocol in memory: ``echo`` returns its ``text``, and
    any extra handler given. Records every call and the peak number running at once."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    hints: dict[str, Annotations] = field(default_factory=dict)
    delay: float = 0.0
    revision: int = 1
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    running: int = 0
    peak: int = 0

    def __post_init__(self) -> None:
        self.handlers.setdefault("echo", lambda args: str(args.get("text", "")))

    @property
    def tools_json(self) -> str:
        tools = [
            {
                "type": "function",
                "name": name,
                "description": f"the {name} tool",
                "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
                "strict": False,
            }
            for name in sorted(self.handlers)
        ]
        return json.dumps(tools, separators=(",", ":"))

    def annotations(self, name: str) -> Annotations | None:
        return self.hints.get(name)

    async def call_detailed(self, name: str, arguments: str, call_id: str) -> Outcome:
        args = json.loads(arguments or "{}")
        self.calls.append((name, args))
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if self.delay:
                await anyio.sleep(self.delay)
            result = self.handlers[name](args)
            if not isinstance(result, str):
                result = await result
        finally:
            self.running -= 1
        item = {"type": "function_call_output", "call_id": call_id, "output": result}
        return Outcome(item, False, 0.0)


class Collector(Observer):
    """Remembers what the loop reported."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def retrying(self, attempt: int, delay: float, reason: str) -> None:
        self.events.append(("retry", (attempt, delay, reason)))

    def interrupted_stream(self, error: Exception) -> None:  # type: ignore[override]
        self.events.append(("interrupted", str(error)))

    def tool_denied(self, call: Any, reason: str) -> None:
        self.events.append(("denied", call["name"]))

    def compaction_finished(self, result: Any) -> None:
        self.events.append(("compacted", result.kind))

    def compaction_failed(self, error: Exception) -> None:
        self.events.append(("compaction_failed", str(error)))

    def kinds(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]


def transport_for(
    url: str, choice: TransportChoice, *, retry: RetryPolicy = FAST_RETRY, **kwargs: Any
) -> Transport:
    provider = PRESETS["openai"].with_overrides(base_url=url, api_key_env="TOOLWIRE_TEST_KEY")
    return make_transport(provider, choice, retry=retry, **kwargs)


def build_agent(
    transport: Transport,
    tools: Any,
    *,
    session: Session | None = None,
    approver: Approver | None = None,
    compactor: Compactor | None = None,
    observer: Observer | None = None,
    cache_key: str = "test-session",
    max_turns: int = 50,
) -> Agent:
    context = initial_context(
        Path("/work"), sandbox="workspace-write", approval="never", environment=ENV
    )
    session = session or Session.create({}, ephemeral=True)
    history = History()
    for item in context:
        session.append_item(history.append(item))  # as the CLI does
    return Agent(
        transport=transport,
        tools=tools,
        history=history,
        context_count=len(context),
        config=AgentConfig(model="test-model", prompt_cache_key=cache_key, max_turns=max_turns),
        session=session,
        approver=approver or Approver(Policy.NEVER),
        compactor=compactor,
        observer=observer,
    )


def inputs(records: Sequence[Any]) -> list[list[dict[str, Any]]]:
    return [list(r.body["input"]) for r in records if r.body is not None]


def responses(records: Sequence[Any]) -> list[Any]:
    return [r for r in records if r.endpoint == "responses"]
