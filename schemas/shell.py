"""Result models of the shell server (``exec_command``, ``write_stdin``, ``list_sessions``,
``kill_session``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
"""``read-only``: nothing on disk may change; ``workspace-write``: only the workspace roots (and a
private /tmp) may change, ``.git`` stays read-only; both without network. ``danger-full-access``:
no sandbox at all."""

CommandStatus = Literal["running", "exited", "timed_out", "killed"]


class ExecResult(BaseModel):
    """What ``exec_command``, ``write_stdin`` and ``kill_session`` return."""

    status: CommandStatus = Field(
        description="running: still going (use session_id); exited: ended on its own; "
        "timed_out: killed at timeout_ms; killed: stopped by kill_session, cancellation or expiry"
    )
    session_id: int | None = Field(
        description="while running: pass to write_stdin or kill_session; null once it has ended"
    )
    exit_code: int | None = Field(
        description="exit status once ended on its own; null while running or if killed by a signal"
    )
    signal: str | None = Field(description="name of the signal that ended it, e.g. SIGKILL")
    wall_time_seconds: float = Field(description="time since the command started")
    output: str = Field(
        description="stdout and stderr interleaved, since the previous read of this session; "
        "head and tail kept when longer than max_output_tokens"
    )
    output_bytes: int = Field(description="size of that output before it was capped")
    output_lines: int = Field(description="lines in that output before it was capped")
    omitted_bytes: int = Field(description="bytes cut from the middle of the output (0 if none)")
    sandbox: SandboxMode = Field(description="the sandbox the command really ran in")
    notes: list[str] = Field(default_factory=list)


class SessionInfo(BaseModel):
    session_id: int
    command: str
    workdir: str
    tty: bool
    sandbox: SandboxMode
    pid: int
    running: bool
    exit_code: int | None
    signal: str | None
    age_seconds: float = Field(description="time since the command started")
    idle_seconds: float = Field(description="time since a tool call last used this session")
    unread_bytes: int = Field(description="output produced since the last read")


class ListSessionsResult(BaseModel):
    sessions: list[SessionInfo]
    max_sessions: int
    sandbox: SandboxMode = Field(description="the sandbox commands run in by default")
