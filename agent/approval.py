"""Which tool calls need a human yes, decided from the tools' MCP annotations.

Policies (``--approval``):

``never``
    Nothing is held; the sandbox is the only boundary. For CI and scripted runs.
``on-request`` (default)
    Calls to tools that may destroy data are held: a tool that is not read-only and does not
    declare ``destructiveHint: false``. MCP's defaults are pessimistic on purpose (a tool
    without annotations is assumed destructive), and so are we.
``untrusted``
    Every call to a tool that is not read-only (``readOnlyHint: true``) is held.

``--yes`` approves whatever would be held. A held call is shown with its arguments and
answered at the terminal: ``y`` (this call), ``a`` (this tool, for the rest of the session),
``n`` (deny). A denied call does not run; the model gets an output saying it was denied, so
it can choose another way instead of retrying. When nobody can answer (stdin is not a
terminal) a held call is denied with an explanation naming ``--yes`` and ``--approval``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, Protocol, TypeVar

import anyio
import anyio.from_thread
from anyio.lowlevel import current_token


class Policy(StrEnum):
    NEVER = "never"
    ON_REQUEST = "on-request"
    UNTRUSTED = "untrusted"


class Hints(Protocol):
    """The MCP ``ToolAnnotations`` fields that matter here (``mcp.types`` has them)."""

    @property
    def read_only_hint(self) -> bool | None: ...

    @property
    def destructive_hint(self) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class Annotations:
    """A plain :class:`Hints` (for tools described by other means, and tests)."""

    read_only_hint: bool | None = None
    destructive_hint: bool | None = None


def needs_approval(policy: Policy, hints: Hints | None) -> bool:
    if policy is Policy.NEVER:
        return False
    read_only = bool(hints is not None and hints.read_only_hint)
    if read_only:
        return False
    if policy is Policy.UNTRUSTED:
        return True
    destructive = hints is None or hints.destructive_hint is None or hints.destructive_hint
    return bool(destructive)


@dataclass(frozen=True, slots=True)
class Request:
    name: str
    arguments: str
    call_id: str


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    remember: bool = False
    reason: str = ""


def denied_output(name: str, reason: str) -> str:
    """What the model reads for a call that did not run."""
    why = f" ({reason})" if reason else ""
    return (
        f"ERROR: the user denied this call to {name}{why}; it did not run. Do not retry it. "
        "Choose another way, or finish and explain what you would need."
    )


Asker = Callable[[Request], Awaitable[Decision]]

T = TypeVar("T")


async def in_daemon_thread(function: Callable[[], T]) -> T:
    """Run a blocking ``function`` (a terminal read) in a daemon thread.

    Not ``anyio.to_thread``: its worker threads are not daemons, so a read abandoned by
    Ctrl-C would keep the process alive until someone pressed Enter.
    """
    token = current_token()
    done = anyio.Event()
    box: list[T] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            box.append(function())
        except BaseException as exc:
            failure.append(exc)
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=work, name="toolwire-prompt", daemon=True).start()
    await done.wait()
    if failure:
        raise failure[0]
    return box[0]


class Approver:
    """Applies a policy; asks through ``ask`` (one question at a time, parallel calls wait)."""

    def __init__(self, policy: Policy, *, yes: bool = False, ask: Asker | None = None) -> None:
        self.policy = policy
        self.yes = yes
        self._ask = ask
        self._always: set[str] = set()
        self._lock = anyio.Lock()

    def holds(self, name: str, hints: Hints | None) -> bool:
        return not self.yes and name not in self._always and needs_approval(self.policy, hints)

    async def decide(self, request: Request, hints: Hints | None) -> Decision:
        if not self.holds(request.name, hints):
            return Decision(True)
        if self._ask is None:
            return Decision(
                False,
                reason="no terminal to ask for approval; the user can rerun with --yes or "
                "--approval never",
            )
        async with self._lock:
            if request.name in self._always:
                return Decision(True)
            decision = await self._ask(request)
        if decision.approved and decision.remember:
            self._always.add(request.name)
        return decision


def describe_arguments(arguments: str, limit: int = 2000) -> str:
    """Arguments as readable ``key: value`` lines (falls back to the raw JSON text)."""
    try:
        data: Any = json.loads(arguments) if arguments else {}
    except ValueError:
        return arguments[:limit]
    if not isinstance(data, dict):
        return json.dumps(data, ensure_ascii=False)[:limit]
    lines = []
    for key, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if "\n" in shown:
            shown = "\n    " + shown.replace("\n", "\n    ")
        lines.append(f"  {key}: {shown}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + " …"


class TerminalAsker:
    """Asks on the controlling terminal. Reading a line blocks, so it happens in a worker
    thread; the event loop (the model stream, other tools) keeps running meanwhile."""

    def __init__(self, *, out: IO[str] | None = None, inp: IO[str] | None = None) -> None:
        self._out = out or sys.stderr
        self._in = inp or sys.stdin

    @staticmethod
    def available(inp: IO[str] | None = None) -> bool:
        stream = inp or sys.stdin
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    async def __call__(self, request: Request) -> Decision:
        return await in_daemon_thread(lambda: self._ask_blocking(request))

    def _ask_blocking(self, request: Request) -> Decision:
        out = self._out
        out.write(f"\nApprove {request.name}?\n{describe_arguments(request.arguments)}\n")
        while True:
            out.write("[y] yes  [a] always for this tool  [n] no > ")
            out.flush()
            line = self._in.readline()
            if not line:
                return Decision(False, reason="no answer (end of input)")
            answer = line.strip().lower()
            if answer in ("y", "yes"):
                return Decision(True)
            if answer in ("a", "always"):
                return Decision(True, remember=True)
            if answer in ("n", "no"):
                return Decision(False)
            out.write("please answer y, a or n\n")
