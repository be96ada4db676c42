"""The shell server: Codex's unified exec (``exec_command`` + ``write_stdin``) plus
``list_sessions`` and ``kill_session``, sandboxed with bubblewrap where the machine allows it."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from schemas.shell import ExecResult, ListSessionsResult, SandboxMode, SessionInfo
from servers.common.annotations import read_only, state_change
from servers.common.limits import format_size
from servers.common.process import ctty_prefix
from servers.common.results import ToolError, tool_result
from servers.common.server import new_server
from servers.common.workspace import Workspace, WorkspaceError
from servers.shell.environment import (
    EnvInherit,
    EnvPolicy,
    command_environment,
    filter_captured,
    inherited_environment,
)
from servers.shell.launch import LoginShell, capture_login_environment, find_shell, shell_argv
from servers.shell.output import BYTES_PER_TOKEN, Piece
from servers.shell.sandbox import (
    SandboxFallback,
    SandboxPlan,
    bwrap_argv,
    describe,
    plan_sandbox,
)
from servers.shell.sessions import Launch, Session, SessionError, SessionManager

logger = logging.getLogger(__name__)

MAX_YIELD_MS = 300_000
MAX_OUTPUT_TOKENS = 100_000


@dataclass(frozen=True, slots=True)
class ShellSettings:
    workspace: Workspace
    sandbox: SandboxMode = "workspace-write"
    sandbox_fallback: SandboxFallback = "refuse"
    """``refuse``: fail to start when bwrap cannot sandbox; ``unsandboxed``: run without it."""
    allow_escalation: bool = False
    """Let a command ask for ``sandbox_permissions="require_escalated"`` (runs unsandboxed)."""
    bwrap: str | None = None
    """bubblewrap binary (default: ``bwrap`` on PATH)."""
    max_sessions: int = 64
    idle_timeout: float = 3600.0
    """Seconds after which a session no tool call has touched is killed and forgotten."""
    kill_grace: float = 2.0
    """Seconds between SIGTERM and SIGKILL when a command is stopped."""
    env_inherit: EnvInherit = "all"
    env_exclude: tuple[str, ...] = ()
    env_keep: tuple[str, ...] = ()
    env_set: Mapping[str, str] = field(default_factory=dict)
    shell: str | None = None
    login_shell: LoginShell = "snapshot"
    progress_interval: float = 0.25


class _Environments:
    """The base environment for commands, with the login-shell snapshot taken once, lazily."""

    def __init__(self, settings: ShellSettings, plan: SandboxPlan, shell: str) -> None:
        self.policy = EnvPolicy(
            inherit=settings.env_inherit,
            exclude=settings.env_exclude,
            keep=settings.env_keep,
            set=dict(settings.env_set),
        )
        self.base = inherited_environment(self.policy)
        self.note = ""
        self._settings = settings
        self._plan = plan
        self._shell = shell
        self._ready = settings.login_shell != "snapshot"
        self._lock = anyio.Lock()

    async def prepare(self) -> None:
        async with self._lock:
            if self._ready:
                return
            root = self._settings.workspace.root
            plan = self._plan
            roots = self._settings.workspace.roots
            prefix = bwrap_argv(plan.bwrap, plan.effective, roots, root) if plan.bwrap else []
            env = command_environment(self.base, self.policy, tty=False, sandboxed=plan.sandboxed)
            try:
                captured = await capture_login_environment(prefix, self._shell, env, root)
            except (OSError, TimeoutError) as exc:
                self.note = f"login shell environment unavailable ({exc}); using the inherited one"
                logger.warning(self.note)
            else:
                self.base = filter_captured(self.policy, captured)
            self._ready = True

    async def for_command(self, *, tty: bool, sandboxed: bool) -> dict[str, str]:
        if not self._ready:
            await self.prepare()
        return command_environment(self.base, self.policy, tty=tty, sandboxed=sandboxed)

    def take_note(self) -> str:
        """Why the login environment is missing, told once (to the first command's result)."""
        note, self.note = self.note, ""
        return note


def create_server(settings: ShellSettings) -> MCPServer[Any]:
    """Build the server; raises :class:`~servers.shell.sandbox.SandboxUnavailableError` when a
    sandboxed mode is configured, bwrap cannot run, and fallback is not allowed."""
    ws = settings.workspace
    plan = plan_sandbox(settings.sandbox, settings.sandbox_fallback, settings.bwrap)
    shell = find_shell(settings.shell, os.environ)
    environments = _Environments(settings, plan, shell)
    manager = SessionManager(
        max_sessions=settings.max_sessions,
        idle_timeout=settings.idle_timeout,
        kill_grace=settings.kill_grace,
    )

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        async with manager, anyio.create_task_group() as tg:
            tg.start_soon(environments.prepare)  # overlap the login shell with the handshake
            yield
            tg.cancel_scope.cancel()

    server = new_server(
        "shell",
        f"Run shell commands ({Path(shell).name}) in the workspace: {ws.describe_roots()}. "
        "exec_command returns the exit code and output when the command ends within "
        "yield_time_ms, otherwise a session_id: continue with write_stdin (poll or type "
        "input), stop with kill_session. " + describe(plan, ws.roots),
        lifespan=lifespan,
    )

    def build_launch(
        cmd: str,
        workdir: str | None,
        *,
        tty: bool,
        escalate: bool,
        timeout_ms: int | None,
        max_output_tokens: int,
        env: dict[str, str],
    ) -> Launch:
        try:
            cwd = ws.resolve(workdir, must_exist=True) if workdir else ws.root
        except WorkspaceError as exc:
            raise ToolError(f"workdir refused: {exc}") from exc
        if not cwd.is_dir():
            raise ToolError(f"workdir {ws.display(cwd)!r} is not a directory")
        login = settings.login_shell == "always"
        inner = shell_argv(shell, cmd, login=login)
        sandboxed = plan.sandboxed and not escalate
        ctty = ctty_prefix() if tty else []
        if sandboxed:
            assert plan.bwrap is not None
            argv = [*bwrap_argv(plan.bwrap, plan.effective, ws.roots, cwd), *ctty, *inner]
            new_session = True  # bwrap leads the session; setsid inside takes the terminal
        else:
            argv = [*ctty, *inner]
            new_session = not ctty
        return Launch(
            command=cmd,
            argv=argv,
            cwd=cwd,
            env=env,
            tty=tty,
            new_session=new_session,
            sandbox=plan.effective if sandboxed else "danger-full-access",
            timeout=timeout_ms / 1000 if timeout_ms is not None else None,
            max_output_bytes=max_output_tokens * BYTES_PER_TOKEN,
        )

    async def wait_and_report(
        session: Session,
        yield_ms: int,
        ctx: Context,
        *,
        max_output_tokens: int | None = None,
        notes: list[str] | None = None,
    ) -> CallToolResult:
        """Wait up to ``yield_ms`` for the session to finish, then report what it printed.
        A cancelled call kills the session: nothing keeps running that nobody can reach."""

        async def progress(line: str) -> None:
            await ctx.report_progress(round(session.elapsed(), 3), None, line)

        try:
            await manager.wait(
                session, yield_ms / 1000, progress, interval=settings.progress_interval
            )
        except anyio.get_cancelled_exc_class():
            manager.remove(session)
            await manager.kill(session, "killed")  # shielded
            raise
        session.touch()
        limit = max_output_tokens * BYTES_PER_TOKEN if max_output_tokens else None
        return report(session, session.output.take(limit), notes or [])

    def report(session: Session, piece: Piece, notes: list[str]) -> CallToolResult:
        if not session.running:
            manager.remove(session)
        result = result_of(session, piece, notes)
        return tool_result(result, render(result))

    @server.tool(
        annotations=state_change("Run command", destructive=True, idempotent=False, open_world=True)
    )
    async def exec_command(
        ctx: Context,
        cmd: Annotated[str, Field(description="shell command line (bash syntax)")],
        workdir: Annotated[
            str | None,
            Field(description="directory to run in, inside the workspace (default: its root)"),
        ] = None,
        timeout_ms: Annotated[
            int | None,
            Field(
                ge=1,
                description="hard limit: after this the whole process group is killed "
                "(default: none; the command keeps running as a session)",
            ),
        ] = None,
        yield_time_ms: Annotated[
            int,
            Field(
                ge=0,
                le=MAX_YIELD_MS,
                description="how long to wait for the command to end before returning a "
                "session_id with the output so far",
            ),
        ] = 10_000,
        max_output_tokens: Annotated[
            int,
            Field(
                ge=1,
                le=MAX_OUTPUT_TOKENS,
                description="cap on returned output (about 4 bytes a token); the head and "
                "tail are kept and the size of the cut stated",
            ),
        ] = 10_000,
        tty: Annotated[
            bool,
            Field(description="run on a pseudo-terminal, for REPLs, prompts and curses tools"),
        ] = False,
        sandbox_permissions: Annotated[
            Literal["use_default", "require_escalated"],
            Field(
                description="require_escalated runs this one command outside the sandbox; "
                "only allowed when the server was started with --allow-escalation"
            ),
        ] = "use_default",
        justification: Annotated[
            str | None,
            Field(description="why the command needs require_escalated (shown to the user)"),
        ] = None,
    ) -> Annotated[CallToolResult, ExecResult]:
        """Run a shell command in the workspace. Returns its exit code and output (stdout and
        stderr interleaved) if it ends within yield_time_ms; otherwise returns a session_id
        and the output so far while the command keeps running: call write_stdin to read more
        output or type input, kill_session to stop it. Use tty=true for interactive programs.
        Background jobs (cmd &) are stopped when the command ends: run long-lived servers in
        the foreground as a session instead."""
        if not cmd.strip():
            raise ToolError("cmd is empty; pass a shell command line")
        escalate = sandbox_permissions == "require_escalated"
        notes: list[str] = []
        if escalate:
            if plan.sandboxed and not settings.allow_escalation:
                raise ToolError(
                    "sandbox_permissions='require_escalated' refused: this shell server was "
                    "started without --allow-escalation, so every command runs in the "
                    f"{plan.effective} sandbox. Run the command inside the sandbox, or ask the "
                    "user to restart the shell server with --allow-escalation."
                )
            if plan.sandboxed:
                why = f" (justification: {justification})" if justification else ""
                notes.append(f"ran outside the sandbox at your request{why}")
                logger.warning("escalated command%s: %s", why, cmd)
            else:
                notes.append("no sandbox to leave: the server runs commands unsandboxed")
        if plan.requested != plan.effective:
            notes.append(
                f"sandbox {plan.requested!r} is unavailable on this machine: commands run "
                "UNSANDBOXED (see the server instructions for why)"
            )
        env = await environments.for_command(tty=tty, sandboxed=plan.sandboxed and not escalate)
        if login_note := environments.take_note():
            notes.append(login_note)
        launch = build_launch(
            cmd,
            workdir,
            tty=tty,
            escalate=escalate,
            timeout_ms=timeout_ms,
            max_output_tokens=max_output_tokens,
            env=env,
        )
        try:
            session = await manager.start(launch)
        except SessionError as exc:
            raise ToolError(str(exc)) from exc
        except OSError as exc:
            raise ToolError(f"could not start {launch.argv[0]!r}: {exc}") from exc
        return await wait_and_report(session, yield_time_ms, ctx, notes=notes)

    @server.tool(
        annotations=state_change(
            "Write to session", destructive=True, idempotent=False, open_world=True
        )
    )
    async def write_stdin(
        ctx: Context,
        session_id: Annotated[int, Field(description="session_id returned by exec_command")],
        chars: Annotated[
            str,
            Field(
                description="text to type into the command's stdin (include \\n to press "
                "Enter; \\u0003 is Ctrl-C on a tty); empty to just read new output"
            ),
        ] = "",
        yield_time_ms: Annotated[
            int,
            Field(ge=0, le=MAX_YIELD_MS, description="how long to wait for output or exit"),
        ] = 250,
        max_output_tokens: Annotated[
            int | None,
            Field(
                ge=1,
                le=MAX_OUTPUT_TOKENS,
                description="cap on returned output (default: as given to exec_command)",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, ExecResult]:
        """Send input to a running session (or just poll it with empty chars) and return the
        output printed since the last call, plus the exit code once the command has ended."""
        try:
            session = manager.get(session_id)
        except SessionError as exc:
            raise ToolError(str(exc)) from exc
        notes: list[str] = []
        if chars:
            data = chars.encode()
            try:
                written = await session.write(data, max(yield_time_ms / 1000, 1.0))
            except SessionError as exc:
                notes.append(f"input not sent: {exc}")
            else:
                if written < len(data):
                    notes.append(
                        f"only {written} of {len(data)} bytes were accepted: the command is "
                        "not reading its input"
                    )
        return await wait_and_report(
            session, yield_time_ms, ctx, max_output_tokens=max_output_tokens, notes=notes
        )

    @server.tool(annotations=read_only("List sessions"))
    async def list_sessions() -> Annotated[CallToolResult, ListSessionsResult]:
        """List the commands still running (or finished but not yet read) with their
        session_id, age and how much unread output they have."""
        sessions = [info_of(s) for s in manager.sessions()]
        result = ListSessionsResult(
            sessions=sessions, max_sessions=manager.max_sessions, sandbox=plan.effective
        )
        return tool_result(result, render_sessions(result))

    @server.tool(annotations=state_change("Kill session", destructive=True, idempotent=False))
    async def kill_session(
        session_id: Annotated[int, Field(description="session to stop")],
    ) -> Annotated[CallToolResult, ExecResult]:
        """Stop a session's command and everything it started (SIGTERM, then SIGKILL), and
        return its last output."""
        try:
            session = manager.get(session_id)
        except SessionError as exc:
            raise ToolError(str(exc)) from exc
        await manager.kill(session, "killed")
        return report(session, session.output.take(), [])

    return server


def result_of(session: Session, piece: Piece, notes: list[str]) -> ExecResult:
    if session.running:
        status: Literal["running", "exited", "timed_out", "killed"] = "running"
    elif session.termination == "timed_out":
        status = "timed_out"
    elif session.termination is not None:
        status = "killed"
    else:
        status = "exited"
    code = session.exit_code
    if status == "exited" and code is not None and 128 < code <= 128 + 64:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            name = f"signal {code - 128}"
        notes = [*notes, f"exit code {code} usually means the command was killed by {name}"]
    if session.termination == "expired":
        notes = [*notes, "the session expired after being idle too long"]
    return ExecResult(
        status=status,
        session_id=session.id if status == "running" else None,
        exit_code=code,
        signal=session.signal_name,
        wall_time_seconds=round(session.elapsed(), 3),
        output=piece.text,
        output_bytes=piece.total_bytes,
        output_lines=piece.total_lines,
        omitted_bytes=piece.omitted_bytes,
        sandbox=session.launch.sandbox,
        notes=[*notes, *piece.notes],
    )


def render(result: ExecResult) -> str:
    """The text the model reads: one status line, notes, then the output."""
    took = f"{result.wall_time_seconds:.2f} s"
    end = f"code {result.exit_code}" if result.signal is None else result.signal
    if result.status == "running":
        sid = result.session_id
        head = (
            f"Still running after {took} as session {sid}; call write_stdin(session_id={sid}) "
            f"to read more or send input, kill_session(session_id={sid}) to stop it."
        )
    elif result.status == "exited":
        head = (
            f"Exited with code {result.exit_code} after {took}."
            if result.signal is None
            else f"Killed by {result.signal} after {took}."
        )
    elif result.status == "timed_out":
        head = f"Timed out after {took}: the process group was killed ({end})."
    else:
        head = f"Stopped after {took}: the process group was killed ({end})."
    lines = [f"{head} [sandbox: {result.sandbox}]"]
    lines += [f"[note: {n}]" for n in result.notes]
    if result.output_bytes == 0:
        lines.append("Output: none")
    else:
        size = format_size(result.output_bytes)
        count = f"{result.output_lines} line{'s' if result.output_lines != 1 else ''}"
        cut = f"; {format_size(result.omitted_bytes)} cut" if result.omitted_bytes else ""
        lines.append(f"Output ({count}, {size}{cut}):")
        lines.append(result.output.rstrip("\n"))
    return "\n".join(lines)


def info_of(session: Session) -> SessionInfo:
    return SessionInfo(
        session_id=session.id,
        command=session.launch.command,
        workdir=str(session.launch.cwd),
        tty=session.launch.tty,
        sandbox=session.launch.sandbox,
        pid=session.pid,
        running=session.running,
        exit_code=session.exit_code,
        signal=session.signal_name,
        age_seconds=round(session.elapsed(), 3),
        idle_seconds=round(time.monotonic() - session.last_used, 3),
        unread_bytes=session.output.unread_bytes,
    )


def render_sessions(result: ListSessionsResult) -> str:
    if not result.sessions:
        return f"No sessions (limit {result.max_sessions}; sandbox: {result.sandbox})."
    lines = [f"{len(result.sessions)} of at most {result.max_sessions} sessions:"]
    for s in result.sessions:
        state = "running" if s.running else f"ended ({s.signal or f'code {s.exit_code}'})"
        tty = ", tty" if s.tty else ""
        unread = f", {format_size(s.unread_bytes)} unread" if s.unread_bytes else ""
        command = s.command if len(s.command) <= 200 else s.command[:200] + "..."
        lines.append(
            f"  session {s.session_id}: {state}, {s.age_seconds:.1f} s{tty}{unread} "
            f"[{s.sandbox}] $ {command}"
        )
    return "\n".join(lines)
