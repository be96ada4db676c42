"""Run tool servers inside the real agent loop, with the scripted model server as the model.

Everything is real except the model: the hub starts the servers and routes every call over MCP,
the loop streams responses over HTTP (or the WebSocket mode) from the scripted model server on
loopback, and the outputs travel back to the "model" as the next request's input. The script
says which tools the model calls; a test then checks what the tools returned and what the
model was sent.

    run = await run_agent(
        "What changed last?",
        script=[[call("git__git_log", limit=1)], ["It was Grace's fix."]],
        servers={"git": create_server(GitSettings(Workspace.from_paths([repo])))},
        workspace=repo,
    )
    assert run.status == "completed"
    assert "Fix the answer" in run.output_of("git__git_log")

Servers are given by name: an ``MCPServer`` (served in-process over streamable HTTP on a
loopback port), a command list (started over stdio), or a URL. Tools of a server that is not
bundled reach the model as ``<server>__<tool>`` (see :func:`tool_name`); bundled servers can be
added with ``bundled=("files", ...)`` and keep their plain names.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import MCPServer

from agent.approval import Approver, Policy
from agent.config import load_settings
from agent.hub import Hub
from agent.hub.naming import MAX_NAME, ToolName, candidate, hashed
from agent.loop import Agent, AgentConfig, Observer, RunResult
from agent.mockmodel import MockModelServer, Record
from agent.mockmodel.server import ScriptSource
from agent.model import PRESETS, History, Item, make_transport
from agent.prompt import initial_context
from agent.session import Session
from servers.common.runner import http_app

ServerSpec = MCPServer[Any] | Sequence[str] | str
NO_KEY_ENV = "TOOLWIRE_TESTING_NO_API_KEY"


def call(name: str, /, **arguments: Any) -> dict[str, Any]:
    """A scripted ``function_call`` item: ``call("git__git_log", limit=1)``."""
    return {"type": "function_call", "name": name, "arguments": arguments}


def tool_name(server: str, tool: str) -> str:
    """The name a non-bundled server's tool has for the model (``git``, ``git_log`` ->
    ``git__git_log``), computed by the hub's own naming rules. Only a name that collides with
    another tool's differs (it gets a hash); :attr:`AgentRun.tools` shows the names offered."""
    name = ToolName(server, tool, bundled=False)
    base = candidate(name)
    return base if len(base) <= MAX_NAME else hashed(name, base)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model made and what came back."""

    name: str
    arguments: dict[str, Any]
    output: str
    is_error: bool


@dataclass(slots=True)
class AgentRun:
    """The outcome of :func:`run_agent`."""

    result: RunResult
    calls: list[ToolCall] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    """The whole conversation, initial context included."""
    records: list[Record] = field(default_factory=list)
    """Every request the scripted model received."""
    tools: list[str] = field(default_factory=list)
    """The tool names the model was offered."""

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def final_text(self) -> str:
        return self.result.final_text

    def output_of(self, name: str) -> str:
        """The output of the first call to ``name`` (AssertionError if it was never called)."""
        for made in self.calls:
            if made.name == name:
                return made.output
        raise AssertionError(
            f"the model never called {name}; calls: {[c.name for c in self.calls]}"
        )


class _Recorder(Observer):
    def __init__(self) -> None:
        self.calls: list[ToolCall] = []

    def tool_finished(self, call: Item, output: Item, is_error: bool, seconds: float) -> None:
        try:
            arguments = json.loads(call.get("arguments") or "{}")
        except json.JSONDecodeError:
            arguments = {"_raw": call.get("arguments")}
        self.calls.append(ToolCall(call["name"], arguments, _text(output), is_error))


def _text(output: Item) -> str:
    value = output.get("output")
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts (text and images)
        return "\n".join(str(p.get("text", "")) for p in value if isinstance(p, dict))
    return json.dumps(value)


@asynccontextmanager
async def serve_in_process(server: MCPServer[Any]) -> AsyncIterator[str]:
    """Serve ``server`` over streamable HTTP on a free loopback port; yield its ``/mcp`` URL."""
    import uvicorn

    config = uvicorn.Config(
        http_app(server, host="127.0.0.1", token=None),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
    )
    web = uvicorn.Server(config)
    config.load()
    sock = config.bind_socket()
    port = sock.getsockname()[1]
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(web.serve, [sock])
        with anyio.fail_after(30):
            while not web.started:  # noqa: ASYNC110 - uvicorn has no event to wait on
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            web.should_exit = True
    sock.close()


async def run_agent(
    task: str,
    *,
    script: ScriptSource,
    workspace: str | os.PathLike[str],
    servers: Mapping[str, ServerSpec] | None = None,
    bundled: Sequence[str] = (),
    transport: Literal["http", "websocket"] = "http",
    max_turns: int = 20,
    overrides: Sequence[str] = (),
) -> AgentRun:
    """Run ``task`` through the agent loop until the scripted model answers (or ``max_turns``).

    ``overrides`` are ``-c``-style settings (``servers.git.tool_timeout_sec=5``). Approval is
    ``never`` (every call runs), the session is ephemeral and the user's own configuration is
    not read.
    """
    root = Path(await anyio.Path(workspace).resolve())
    recorder = _Recorder()
    async with AsyncExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="toolwire-run-")))
        config = list(overrides)
        for name, spec in (servers or {}).items():
            config += await _configure(stack, name, spec)
        settings = load_settings(
            root,
            user_config=None,
            bundled=tuple(bundled),
            entry_points=False,
            overrides=config,
            cache_dir=scratch / "cache",
        )
        mock = await stack.enter_async_context(MockModelServer(script))
        provider = PRESETS["openai"].with_overrides(base_url=mock.url, api_key_env=NO_KEY_ENV)
        hub = await stack.enter_async_context(Hub.start(settings, wait=True))
        failed = [f"{s.name}: {s.error}" for s in hub.servers if s.status == "failed"]
        if failed:
            raise RuntimeError("servers failed to start: " + "; ".join(failed))
        model = make_transport(provider, transport)
        stack.push_async_callback(model.aclose)
        context = initial_context(root, sandbox="workspace-write", approval="never")
        session = Session.create({"cwd": str(root)}, ephemeral=True)
        stack.callback(session.close)
        history = History()
        for item in context:
            session.append_item(history.append(item))
        agent = Agent(
            transport=model,
            tools=hub,
            history=history,
            context_count=len(context),
            config=AgentConfig(model=provider.default_model, max_turns=max_turns),
            session=session,
            approver=Approver(Policy.NEVER, yes=True),
            observer=recorder,
        )
        result = await agent.run(task)
        return AgentRun(
            result=result,
            calls=recorder.calls,
            items=list(history.items),
            records=mock.records,
            tools=[entry.name for entry in hub.entries],
        )
    raise AssertionError("unreachable")  # pragma: no cover  (mypy: the stack may swallow)


async def _configure(stack: AsyncExitStack, name: str, spec: ServerSpec) -> list[str]:
    """``-c`` overrides that make the hub reach ``spec`` under ``name``."""
    if isinstance(spec, MCPServer):
        url = await stack.enter_async_context(serve_in_process(spec))
        return [f"servers.{name}.url={json.dumps(url)}"]
    if isinstance(spec, str):
        return [f"servers.{name}.url={json.dumps(spec)}"]
    command, *args = list(spec)
    if command in ("python", "python3"):
        import sys

        command = sys.executable
    return [
        f"servers.{name}.command={json.dumps(command)}",
        f"servers.{name}.args={json.dumps(args)}",
    ]


__all__ = ["AgentRun", "ToolCall", "call", "run_agent", "serve_in_process", "tool_name"]
