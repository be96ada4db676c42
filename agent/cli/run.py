"""``toolwire run``, ``chat`` and ``resume``: the agent at the terminal.

``toolwire run "fix the failing test"`` starts the tool servers (through the hub), opens the
model transport, and runs the loop until the model answers: text streams as it arrives,
each tool call is shown with its arguments and a short result, a spinner runs while tools
do, and the end reports turns, token usage and the prompt-cache hit rate. ``--json`` prints
one JSON object per line instead, for scripts. ``chat`` keeps asking for the next message;
``resume`` continues a saved session.

Exit codes: 0 the model finished; 1 it did not (a model or server error, an incomplete
response, the turn limit); 2 usage (bad arguments or configuration, no API key, no such
session); 130 interrupted (Ctrl-C: the request and running tools are cancelled and the
session is saved first); 143 terminated (SIGTERM, same cleanup).

The provider defaults to OpenAI (``OPENAI_API_KEY``). ``--mock SCRIPT`` runs the scripted
model server in-process instead, for trying tool servers in a real loop without a model;
the output says so plainly.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import anyio
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from agent.approval import Approver, Decision, Policy, Request, TerminalAsker, in_daemon_thread
from agent.compaction import Compactor, Mode
from agent.compaction import Result as CompactionResult
from agent.compaction import Settings as CompactionSettings
from agent.loop import Agent, AgentConfig, Observer, RunResult
from agent.model import PRESETS, ModelError, Provider, RetryPolicy, make_transport
from agent.model.providers import TransportChoice, resolve_transport
from agent.model.request import History, Item
from agent.prompt import initial_context, message_text
from agent.session import Session, Totals, find_session, repair

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
SCRIPTED_NOTICE = (
    "Scripted model: the 'model' here is toolwire's scripted model server replaying {script}, "
    "not an AI. Every tool call below is real."
)


class UsageError(Exception):
    """Bad arguments or configuration: exit code 2."""


# ---------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model")
    model.add_argument(
        "--provider",
        choices=sorted(PRESETS),
        default=None,
        help="provider preset (default openai; ollama, vllm and llamacpp are local servers)",
    )
    model.add_argument("--model", "-m", help="model name (default: the provider's)")
    model.add_argument("--base-url", help="API base URL, e.g. http://localhost:8000/v1")
    model.add_argument("--api-key-env", metavar="VAR", help="environment variable with the API key")
    model.add_argument(
        "--transport",
        choices=("auto", "http", "websocket"),
        default=None,
        help="auto (default): WebSocket where the provider has it, else HTTP",
    )
    model.add_argument(
        "--mock",
        metavar="SCRIPT",
        type=Path,
        help="use the scripted model server with this script (JSON/TOML) instead of a model",
    )
    model.add_argument(
        "--reasoning-effort",
        choices=("none", "minimal", "low", "medium", "high", "xhigh"),
        help="reasoning effort for reasoning models",
    )
    model.add_argument(
        "--reasoning-summary",
        choices=("auto", "concise", "detailed", "none"),
        default=None,
        help="reasoning summaries to stream (default auto on OpenAI, none elsewhere)",
    )
    model.add_argument("--max-retries", type=int, default=5, help="retries per request")
    model.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="fail (and retry) a response whose events stop for this long",
    )

    agent = parser.add_argument_group("agent")
    agent.add_argument(
        "--approval",
        choices=[p.value for p in Policy],
        default=None,
        help="which tool calls wait for a yes: never, on-request (default: tools that may "
        "destroy data), untrusted (every tool that is not read-only)",
    )
    agent.add_argument("--yes", "-y", action="store_true", help="approve every tool call")
    agent.add_argument(
        "--sandbox",
        choices=SANDBOX_MODES,
        default=None,
        help="sandbox for shell commands (default workspace-write)",
    )
    agent.add_argument("--cd", "-C", type=Path, help="workspace directory (default: cwd)")
    agent.add_argument("--max-turns", type=int, default=200, help="stop after N model turns")
    agent.add_argument(
        "--context-window", type=int, help="model context window in tokens (for compaction)"
    )
    agent.add_argument(
        "--compact-threshold",
        type=int,
        metavar="TOKENS",
        help="compact when a response's input passes this (default 90%% of the window)",
    )
    agent.add_argument(
        "--compaction",
        choices=[m.value for m in Mode],
        default="auto",
        help="auto (the /responses/compact endpoint where available, else a hand-off "
        "summary), remote, handoff or off",
    )
    agent.add_argument(
        "-c",
        "--config",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. servers.shell.enabled=false (repeatable)",
    )

    out = parser.add_argument_group("output and sessions")
    out.add_argument("--json", action="store_true", help="print one JSON event per line")
    out.add_argument("--ephemeral", action="store_true", help="do not save the session to disk")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``toolwire run``."""
    parser.add_argument("task", nargs="*", help="what to do ('-' reads it from stdin)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    task = " ".join(args.task).strip()
    if task == "-":
        task = sys.stdin.read().strip()
    if not task:
        print(
            'toolwire run: give a task, e.g. toolwire run "fix the failing test"', file=sys.stderr
        )
        return EXIT_USAGE
    return execute(args, Plan(kind="run", task=task))


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arguments_summary(arguments: str) -> str:
    try:
        data = json.loads(arguments) if arguments else {}
    except ValueError:
        return _short(arguments)
    if not isinstance(data, dict):
        return _short(arguments)
    parts = []
    for key, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={_short(shown, 60)}")
    return _short(" ".join(parts), 160)


def _output_text(item: Item) -> str:
    output = item.get("output")
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "\n".join(str(p.get("text", "[image]")) for p in output if isinstance(p, dict))
    return ""


class RichObserver(Observer):
    """The terminal UI."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._line_start = True
        self._status: Status | None = None
        self._running = 0
        self._started: dict[str, float] = {}

    # text goes straight to the file: rich's renderer costs tens of µs per call
    def text_delta(self, delta: str) -> None:
        self._stop_status()
        file = self.console.file
        file.write(delta)
        file.flush()
        self._line_start = delta.endswith("\n")

    def _newline(self) -> None:
        if not self._line_start:
            self.console.file.write("\n")
            self._line_start = True

    def item_completed(self, item: Item) -> None:
        kind = item.get("type")
        if kind == "message":
            self._newline()
        elif kind == "reasoning":
            summary = " ".join(
                str(p.get("text", "")) for p in item.get("summary") or [] if isinstance(p, dict)
            )
            if summary:
                self._newline()
                self.console.print(f"[dim italic]{escape(_short(summary, 200))}[/]")

    def retrying(self, attempt: int, delay: float, reason: str) -> None:
        self._newline()
        self.console.print(
            f"[yellow]retrying in {delay:.1f}s (attempt {attempt}): {escape(_short(reason))}[/]"
        )

    def interrupted_stream(self, error: ModelError) -> None:
        self._newline()
        self.console.print(
            f"[yellow]the response broke off ({escape(_short(str(error)))}); "
            "continuing from what arrived[/]"
        )

    def tool_started(self, call: Item) -> None:
        self._newline()
        name = escape(str(call.get("name")))
        args = escape(_arguments_summary(str(call.get("arguments") or "")))
        self.console.print(f"[bold cyan]▸ {name}[/] [dim]{args}[/]")
        self._started[str(call.get("call_id"))] = time.perf_counter()
        self._running += 1
        self._show_status()

    def tool_finished(self, call: Item, output: Item, is_error: bool, seconds: float) -> None:
        self._running = max(0, self._running - 1)
        text = _output_text(output)
        lines = text.count("\n") + 1 if text else 0
        mark = "[red]✗[/]" if is_error else "[green]✓[/]"
        first = escape(_short(text.strip().splitlines()[0] if text.strip() else "(no output)", 90))
        more = f" [dim](+{lines - 1} lines)[/]" if lines > 1 else ""
        self.console.print(
            f"  {mark} [dim]{escape(str(call.get('name')))} · {seconds * 1000:.0f} ms ·[/] "
            f"{first}{more}"
        )
        if self._running == 0:
            self._stop_status()
        else:
            self._show_status()

    def tool_denied(self, call: Item, reason: str) -> None:
        self._newline()
        why = f": {escape(reason)}" if reason else ""
        self.console.print(f"  [red]✗ {escape(str(call.get('name')))} denied{why}[/]")

    def compaction_started(self, kind: str, input_tokens: int | None) -> None:
        self._newline()
        tokens = f" at {input_tokens:,} input tokens" if input_tokens else ""
        self.console.print(f"[magenta]compacting the conversation ({kind}){tokens}…[/]")

    def compaction_finished(self, result: CompactionResult) -> None:
        self.console.print(
            f"[magenta]compacted ({result.kind}): {result.before_items} items, "
            f"{result.before_bytes / 1024:.0f} KB → {len(result.items)} items, "
            f"{result.after_bytes / 1024:.0f} KB[/]"
        )

    def compaction_failed(self, error: Exception) -> None:
        self.console.print(f"[yellow]compaction failed, continuing: {escape(str(error))}[/]")

    def notice(self, text: str) -> None:
        self._newline()
        self.console.print(f"[dim]{escape(text)}[/]")

    # spinner ---------------------------------------------------------------------------

    def _show_status(self) -> None:
        text = "running a tool…" if self._running == 1 else f"running {self._running} tools…"
        if self._status is None:
            self._status = self.console.status(text, spinner="dots")
            self._status.start()
        else:
            self._status.update(text)

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def pause(self) -> None:
        """Before reading from the terminal (an approval prompt)."""
        self._stop_status()
        self._newline()

    def resume(self) -> None:
        if self._running:
            self._show_status()

    def close(self) -> None:
        self._stop_status()
        self._newline()


class JsonObserver(Observer):
    """``--json``: one object per line on stdout, flushed per line."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def emit(self, event: dict[str, Any]) -> None:
        self.out.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.out.flush()

    def turn_started(self, turn: int) -> None:
        self.emit({"type": "turn.started", "turn": turn})

    def item_completed(self, item: Item) -> None:
        shown = {k: v for k, v in item.items() if k != "encrypted_content"}
        self.emit({"type": "item.completed", "item": shown})

    def retrying(self, attempt: int, delay: float, reason: str) -> None:
        self.emit({"type": "retry", "attempt": attempt, "delay": delay, "reason": reason})

    def interrupted_stream(self, error: ModelError) -> None:
        self.emit({"type": "stream.interrupted", "error": str(error)})

    def response_completed(self, response: dict[str, Any], totals: Totals) -> None:
        self.emit(
            {
                "type": "response.completed",
                "response_id": response.get("id"),
                "status": response.get("status"),
                "usage": response.get("usage"),
            }
        )

    def tool_started(self, call: Item) -> None:
        self.emit(
            {
                "type": "tool.started",
                "call_id": call.get("call_id"),
                "name": call.get("name"),
                "arguments": call.get("arguments"),
            }
        )

    def tool_finished(self, call: Item, output: Item, is_error: bool, seconds: float) -> None:
        self.emit(
            {
                "type": "tool.completed",
                "call_id": call.get("call_id"),
                "name": call.get("name"),
                "is_error": is_error,
                "seconds": round(seconds, 6),
                "output": output.get("output"),
            }
        )

    def tool_denied(self, call: Item, reason: str) -> None:
        self.emit(
            {
                "type": "tool.denied",
                "call_id": call.get("call_id"),
                "name": call.get("name"),
                "reason": reason,
            }
        )

    def compaction_started(self, kind: str, input_tokens: int | None) -> None:
        self.emit({"type": "compaction.started", "kind": kind, "input_tokens": input_tokens})

    def compaction_finished(self, result: CompactionResult) -> None:
        self.emit(
            {
                "type": "compaction.completed",
                "kind": result.kind,
                "before_items": result.before_items,
                "after_items": len(result.items),
                "before_bytes": result.before_bytes,
                "after_bytes": result.after_bytes,
            }
        )

    def compaction_failed(self, error: Exception) -> None:
        self.emit({"type": "compaction.failed", "error": str(error)})

    def notice(self, text: str) -> None:
        self.emit({"type": "notice", "text": text})


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What to run: a new session with a task, chat, or a resumed session."""

    kind: Literal["run", "chat", "resume", "demo"]
    task: str | None = None
    resume_id: str | None = None
    resume_last: bool = False
    header: str | None = None
    """Shown first (the demo's explanation)."""
    extra_overrides: list[str] = field(default_factory=list)
    workspace: Path | None = None
    """Filled in by :func:`execute`: the workspace the run used."""
    result: RunResult | None = None
    """Filled in by :func:`execute`: the last run's result, if it got that far."""


@dataclass
class Prepared:
    session: Session
    history: History
    context_count: int
    totals: Totals
    workspace: Path
    resumed: bool
    pending: bool
    """A resumed history whose last turn still waits for the model."""


def _provider(args: argparse.Namespace, meta: dict[str, Any]) -> Provider:
    name = args.provider or meta.get("provider") or os.environ.get("TOOLWIRE_PROVIDER") or "openai"
    if name not in PRESETS:
        raise UsageError(f"unknown provider {name!r} (choose from {', '.join(sorted(PRESETS))})")
    provider = PRESETS[name]
    base_url = args.base_url or (None if args.provider else meta.get("base_url"))
    if base_url is None and name == "openai":
        base_url = os.environ.get("OPENAI_BASE_URL")
    return provider.with_overrides(
        base_url=base_url,
        model=args.model or meta.get("model"),
        api_key_env=args.api_key_env,
    )


def _transport_choice(value: object) -> TransportChoice:
    if value in (None, "auto"):
        return "auto"
    if value == "http":
        return "http"
    if value == "websocket":
        return "websocket"
    raise UsageError(f"unknown transport {value!r} (auto, http or websocket)")


def _reasoning(args: argparse.Namespace, provider: Provider) -> dict[str, Any] | None:
    summary = args.reasoning_summary
    if summary is None:
        summary = "auto" if provider.encrypted_reasoning else "none"
    reasoning: dict[str, Any] = {}
    if args.reasoning_effort:
        reasoning["effort"] = args.reasoning_effort
    if summary != "none":
        reasoning["summary"] = summary
    return reasoning or None


def _prepare_session(
    args: argparse.Namespace, plan: Plan, provider: Provider, meta_extra: dict[str, Any]
) -> Prepared:
    if plan.kind == "resume":
        workspace_hint = (args.cd or Path.cwd()).resolve()
        try:
            path = find_session(plan.resume_id, cwd=workspace_hint)
        except LookupError as exc:
            raise UsageError(str(exc)) from exc
        if path is None:
            which = plan.resume_id or "any session"
            raise UsageError(f"no saved session matches {which}")
        session, replay = Session.open_existing(path)
        items, added, dropped = repair(replay.items)
        history = History(items[: len(items) - len(added)])
        if dropped:
            session.rewrite("repair", history.items)
        for item in added:
            session.append_item(history.append(item))
        workspace = Path(args.cd or replay.meta.get("cwd") or Path.cwd()).resolve()
        last = history.items[-1] if history.items else None
        pending = last is not None and not (
            last.get("type", "message") == "message" and last.get("role") == "assistant"
        )
        return Prepared(
            session, history, session.context_count, replay.totals, workspace, True, pending
        )
    workspace = (args.cd or Path.cwd()).resolve()
    if not workspace.is_dir():
        raise UsageError(f"workspace {workspace} is not a directory")
    sandbox = args.sandbox or "workspace-write"
    approval = "never" if args.yes else (args.approval or Policy.ON_REQUEST.value)
    context = initial_context(workspace, sandbox=sandbox, approval=approval)
    meta = {
        "cwd": str(workspace),
        "provider": provider.name,
        "base_url": provider.base_url,
        "model": provider.default_model,
        "transport": args.transport or "auto",
        "approval": args.approval or Policy.ON_REQUEST.value,
        "sandbox": sandbox,
        "context": len(context),
        **meta_extra,
    }
    session = Session.create(meta, ephemeral=args.ephemeral)
    history = History()
    for item in context:
        session.append_item(history.append(item))
    return Prepared(session, history, len(context), Totals(), workspace, False, False)


def _settings_overrides(args: argparse.Namespace, session: Session, plan: Plan) -> list[str]:
    overrides: list[str] = []
    plan_file = session.plan_file()
    if plan_file is not None:
        overrides.append(f"servers.plan.args={json.dumps(['--state-file', str(plan_file)])}")
    sandbox = args.sandbox or session.meta.get("sandbox")
    if args.sandbox:
        overrides.append(f"servers.shell.args={json.dumps(['--sandbox', sandbox])}")
    overrides.extend(plan.extra_overrides)
    overrides.extend(args.overrides)
    return overrides


def execute(args: argparse.Namespace, plan: Plan) -> int:
    """Run ``plan`` with Ctrl-C/SIGTERM handled; returns the exit code."""
    try:
        return anyio.run(_main, args, plan)
    except UsageError as exc:
        print(f"toolwire: {exc}", file=sys.stderr)
        return EXIT_USAGE


async def _main(args: argparse.Namespace, plan: Plan) -> int:
    json_mode = bool(args.json)
    console = Console(file=sys.stderr if json_mode else sys.stdout, highlight=False, soft_wrap=True)
    observer: RichObserver | JsonObserver = (
        JsonObserver(sys.stdout) if json_mode else RichObserver(console)
    )
    state: dict[str, Any] = {"signal": None}
    code = EXIT_FAILED
    async with anyio.create_task_group() as tg:
        work = anyio.CancelScope()

        async def watch_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    state["signal"] = signum
                    work.cancel()
                    return

        tg.start_soon(watch_signals)
        try:
            code = await _session(args, plan, console, observer, work, state)
        except (UsageError, BaseExceptionGroup) as exc:
            usage = _usage_error(exc)
            if usage is None:
                raise
            _error(console, observer, str(usage))
            code = EXIT_USAGE
        finally:
            tg.cancel_scope.cancel()
    return code


def _usage_error(exc: BaseException) -> UsageError | None:
    """The :class:`UsageError` in ``exc``, also when a task group wrapped it."""
    if isinstance(exc, UsageError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _usage_error(inner)
            if found is not None:
                return found
    return None


async def _session(
    args: argparse.Namespace,
    plan: Plan,
    console: Console,
    observer: RichObserver | JsonObserver,
    work: anyio.CancelScope,
    state: dict[str, Any],
) -> int:
    # imported here: the hub pulls in the MCP SDK (~0.5 s), which --help should not pay
    from agent.config import ConfigError, load_settings
    from agent.hub import Hub, HubStartError

    started = time.perf_counter()
    meta: dict[str, Any] = {}
    if plan.kind == "resume":
        try:
            path = find_session(plan.resume_id, cwd=(args.cd or Path.cwd()).resolve())
        except LookupError as exc:
            raise UsageError(str(exc)) from exc
        if path is not None:
            with path.open("rb") as f:
                first = json.loads(f.readline() or b"{}")
            meta = first if isinstance(first, dict) else {}
    mock_script: Path | None = args.mock
    if mock_script is None and meta.get("mock_script") and not args.base_url:
        mock_script = Path(str(meta["mock_script"]))
    provider = _provider(args, meta)
    if mock_script is None and provider.key_required and not provider.api_key():
        raise UsageError(
            f"{provider.api_key_env} is not set: export it, choose another provider "
            "(--provider ollama|vllm|llamacpp, --base-url), or try the scripted model "
            "with --mock SCRIPT"
        )

    result: RunResult | None = None
    error: str | None = None
    session: Session | None = None
    agent: Agent | None = None
    with work:
        async with AsyncExitStack() as stack:
            if mock_script is not None:
                from agent.mockmodel import MockModelServer

                try:
                    mock = MockModelServer(mock_script.resolve())
                except (OSError, ValueError) as exc:
                    raise UsageError(f"--mock {mock_script}: {exc}") from exc
                await stack.enter_async_context(mock)
                provider = provider.with_overrides(base_url=mock.url)
                if not provider.api_key():
                    os.environ.setdefault(provider.api_key_env or "OPENAI_API_KEY", "scripted")
            extra = {"mock_script": str(mock_script.resolve())} if mock_script else {}
            # file reads and the first writes: off the event loop (the mock model serves)
            prepared = await anyio.to_thread.run_sync(_prepare_session, args, plan, provider, extra)
            session = prepared.session
            plan.workspace = prepared.workspace
            transport_choice = _transport_choice(args.transport or meta.get("transport"))
            approval_name = args.approval or meta.get("approval") or Policy.ON_REQUEST.value
            policy = Policy(approval_name)
            if plan.header:
                _header(console, observer, plan.header)
            if mock_script is not None and not plan.header:
                _header(console, observer, SCRIPTED_NOTICE.format(script=mock_script))
            try:
                settings = await anyio.to_thread.run_sync(
                    lambda: load_settings(
                        prepared.workspace, overrides=_settings_overrides(args, session, plan)
                    )
                )
            except ConfigError as exc:
                raise UsageError(str(exc)) from exc
            for warning in settings.warnings:
                observer.notice(f"config: {warning}")
            retry = RetryPolicy(max_retries=args.max_retries)
            transport = make_transport(
                provider,
                transport_choice,
                retry=retry,
                idle_timeout=args.idle_timeout,
                skip_lifecycle=True,
            )
            stack.push_async_callback(transport.aclose)
            # connect to the model while the tool servers start
            warming = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(warming.cancel_scope.cancel)
            warming.start_soon(transport.prepare)
            try:
                hub = await stack.enter_async_context(Hub.start(settings))
            except HubStartError as exc:
                error = str(exc)
                hub = None
            if hub is not None:
                # What is alive now (the SDK, the models, the hub and its sessions) lives as long
                # as the process: frozen out of the collector's sight, a full collection no longer
                # walks it in the middle of some turn (20-30 ms in a server process, measured).
                gc.freeze()
                agent = Agent(
                    transport=transport,
                    tools=hub,
                    history=prepared.history,
                    context_count=prepared.context_count,
                    config=AgentConfig(
                        model=provider.default_model,
                        max_turns=args.max_turns,
                        prompt_cache_key=session.id,
                        encrypted_reasoning=provider.encrypted_reasoning,
                        reasoning=_reasoning(args, provider),
                    ),
                    session=session,
                    approver=_approver(args, policy, observer),
                    compactor=Compactor(
                        CompactionSettings(
                            context_window=args.context_window or provider.context_window,
                            threshold_tokens=args.compact_threshold,
                            mode=Mode(args.compaction),
                        ),
                        remote_available=provider.compact,
                    ),
                    observer=observer,
                    totals=prepared.totals,
                )
                wanted = resolve_transport(transport_choice, provider)
                _started_event(
                    observer, session, provider, wanted, prepared, mock_script, len(hub.tools)
                )
                try:
                    result = await _drive(agent, plan, prepared, observer, console)
                except ModelError as exc:
                    error = f"model error: {exc}"
                if transport.name != wanted:
                    observer.notice("the server refused the WebSocket; this session used HTTP")
    try:
        return _conclude(
            console, observer, plan, state, work, agent, session, result, error, started
        )
    finally:
        if session is not None:
            session.close()


def _approver(
    args: argparse.Namespace, policy: Policy, observer: RichObserver | JsonObserver
) -> Approver:
    asker = None
    if not args.yes and policy is not Policy.NEVER and TerminalAsker.available():
        terminal = TerminalAsker()

        async def ask(request: Request) -> Decision:
            if isinstance(observer, RichObserver):
                observer.pause()
            try:
                return await terminal(request)
            finally:
                if isinstance(observer, RichObserver):
                    observer.resume()

        asker = ask
    return Approver(policy, yes=args.yes, ask=asker)


def _conclude(
    console: Console,
    observer: RichObserver | JsonObserver,
    plan: Plan,
    state: dict[str, Any],
    work: anyio.CancelScope,
    agent: Agent | None,
    session: Session | None,
    result: RunResult | None,
    error: str | None,
    started: float,
) -> int:
    if work.cancelled_caught or state["signal"] is not None:
        if agent is not None:
            agent.close_interrupted()
        if session is not None:
            session.record("end", status="interrupted")
        code = EXIT_TERMINATED if state["signal"] == signal.SIGTERM else EXIT_INTERRUPTED
        _finish(console, observer, None, agent, session, "interrupted", code, started)
        return code
    if error is not None or result is None:
        if session is not None:
            session.record("end", status="failed", error=error)
        _error(console, observer, error or "the run ended without a result")
        _finish(console, observer, None, agent, session, "failed", EXIT_FAILED, started)
        return EXIT_FAILED
    code = EXIT_OK if result.status == "completed" else EXIT_FAILED
    plan.result = result
    if session is not None:
        session.record("end", status=result.status, error=result.error)
    if result.error:
        _error(console, observer, result.error)
    _finish(console, observer, result, agent, session, result.status, code, started)
    return code


async def _drive(
    agent: Agent,
    plan: Plan,
    prepared: Prepared,
    observer: RichObserver | JsonObserver,
    console: Console,
) -> RunResult:
    if plan.kind in ("run", "demo"):
        return await agent.run(plan.task)
    if plan.kind == "resume" and plan.task:
        return await agent.run(plan.task)
    result = RunResult("completed", totals=agent.totals)
    if plan.kind == "resume" and prepared.pending:
        observer.notice("continuing the interrupted turn")
        result = await agent.run()
        if not sys.stdin.isatty():
            return result
    elif plan.kind == "resume":
        if not sys.stdin.isatty():
            raise UsageError(
                "this session is complete: give a message to continue it, "
                'e.g. toolwire resume --last "now add a test"'
            )
        _show_last_answer(agent, console, observer)
    elif plan.kind == "chat" and plan.task:
        result = await agent.run(plan.task)
    while True:  # chat: one message per line until end of input
        line = await _read_line(console, observer)
        if line is None:
            return result
        if line.strip():
            result = await agent.run(line)


def _show_last_answer(agent: Agent, console: Console, observer: Observer) -> None:
    for item in reversed(agent.history.items):
        if item.get("role") == "assistant":
            text = message_text(item)
            if text and isinstance(observer, RichObserver):
                console.print(f"[dim]last answer:[/] {escape(_short(text, 300))}")
            return


async def _read_line(console: Console, observer: Observer) -> str | None:
    if isinstance(observer, RichObserver):
        observer.close()

    def read() -> str | None:
        if isinstance(observer, RichObserver):
            console.file.write("\n› ")
            console.file.flush()
        line = sys.stdin.readline()
        return line.rstrip("\n") if line else None

    return await in_daemon_thread(read)


def _header(console: Console, observer: Observer, text: str) -> None:
    if isinstance(observer, JsonObserver):
        observer.emit({"type": "notice", "text": text})
    else:
        console.print(f"[bold yellow]{escape(text)}[/]")


def _error(console: Console, observer: Observer, text: str) -> None:
    if isinstance(observer, JsonObserver):
        observer.emit({"type": "error", "message": text})
    else:
        if isinstance(observer, RichObserver):
            observer.close()
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        errors.print(f"[bold red]error:[/] {escape(text)}")


def _started_event(
    observer: Observer,
    session: Session,
    provider: Provider,
    transport: str,
    prepared: Prepared,
    mock_script: Path | None,
    tool_count: int,
) -> None:
    if isinstance(observer, JsonObserver):
        observer.emit(
            {
                "type": "session.started",
                "session_id": session.id,
                "session_file": str(session.path) if session.path else None,
                "resumed": prepared.resumed,
                "provider": provider.name,
                "model": provider.default_model,
                "base_url": provider.base_url,
                "transport": transport,
                "scripted": mock_script is not None,
                "workspace": str(prepared.workspace),
                "tools": tool_count,
            }
        )
    elif isinstance(observer, RichObserver):
        what = "resumed session" if prepared.resumed else "session"
        observer.console.print(
            f"[dim]toolwire · {escape(provider.default_model)} via {provider.name} "
            f"({transport}) · {tool_count} tools · {what} {session.id}"
            f"{' (ephemeral)' if session.ephemeral else ''}[/]"
        )


def _finish(
    console: Console,
    observer: Observer,
    result: RunResult | None,
    agent: Agent | None,
    session: Session | None,
    status: str,
    code: int,
    started: float,
) -> None:
    totals = agent.totals if agent is not None else Totals()
    stats = agent.transport.stats if agent is not None else None
    elapsed = time.perf_counter() - started
    if isinstance(observer, JsonObserver):
        observer.emit(
            {
                "type": "run.completed",
                "status": status,
                "exit_code": code,
                "final_text": result.final_text if result else "",
                "turns": result.turns if result else None,
                "error": result.error if result else None,
                "usage": totals.as_dict(),
                "cache_hit_rate": round(totals.cache_hit_rate, 4),
                "transport": agent.transport.name if agent is not None else None,
                "bytes_sent": stats.bytes_sent if stats else 0,
                "seconds": round(elapsed, 3),
                "session_id": session.id if session else None,
            }
        )
        return
    if isinstance(observer, RichObserver):
        observer.close()
    style = {"completed": "green", "interrupted": "yellow"}.get(status, "red")
    turns = f"{result.turns} turn{'' if result.turns == 1 else 's'} · " if result else ""
    console.print(
        f"[{style}]{status}[/] [dim]· {turns}{totals.input_tokens:,} input tokens "
        f"({totals.cache_hit_rate:.0%} cached) · {totals.output_tokens:,} output tokens · "
        f"{elapsed:.1f}s[/]"
    )
    if session is not None and not session.ephemeral:
        console.print(f"[dim]session {session.id} · resume with: toolwire resume {session.id}[/]")
