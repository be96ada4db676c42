"""The prompt: what the model is told before the conversation, and in which order.

Order is chosen for the prompt cache, which only reuses an identical *prefix*: the most
stable material comes first and nothing before the conversation changes during a session.

1. ``instructions``: the base instructions (:data:`BASE_INSTRUCTIONS`), fixed for a release;
2. a developer message with the permissions: sandbox mode and approval policy;
3. a user message with the repository's AGENTS.md files, from the repository root down to
   the working directory (nearer files later, so they take precedence);
4. a user message with the environment: working directory, shell, OS, date;
5. the conversation, append-only, so each request's input starts with the previous one's.

Items 2–4 are built once per session and saved with it; a resumed session replays them as
they were (yesterday's date included) rather than rebuilding them, because a changed prefix
would forfeit the cache for the whole conversation.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.model.request import Item

AGENTS_FILE = "AGENTS.md"
MAX_AGENTS_BYTES = 32 * 1024
"""Project instructions beyond this are cut (with a note): they are read on every turn."""

BASE_INSTRUCTIONS = """\
You are toolwire, a coding agent working in the user's repository through tools. You get a \
task, work on it with the tools until it is done, then answer with a short summary.

How to work:
- Look before you change anything. Find code with `grep` and `find_files`, read it with \
`read_file` (numbered lines; read the part you need, then more if it is not enough), and \
list directories with `list_dir`.
- For a task with more than a couple of steps, keep a plan with `update_plan`: a few short \
steps, exactly one `in_progress` at a time, each marked `completed` when done.
- Change files only with `apply_patch`. Keep changes small and in the style of the code \
around them; fix the cause, not the symptom. Do not reformat unrelated code.
- Run commands with `exec_command` (tests, builds, linters). If a command keeps running, \
poll it with `write_stdin`. After a change, run the relevant tests and read the output.
- When several calls do not depend on each other, make them in the same turn; they run in \
parallel.
- A tool output starting with "ERROR:" means the call failed; read the message and adjust \
rather than repeating the same call. If the user denied a call, do not retry it.
- Stay inside the workspace. Do not invent file contents, command output or test results.

When you are done, reply without calling tools: say what you changed and why, in a few \
sentences, and how you verified it. If you could not finish, say what is left and why.\
"""

HANDOFF_SUMMARY_PROMPT = """\
Your context window is nearly full, so this conversation will be handed to a fresh \
instance of you that sees only the user's messages and what you write now. Write the \
hand-off summary: the task and any constraints the user gave, what has been done so far \
(files read and changed, commands run and their results), what you learned that matters, \
the current state, and the next steps. Be specific (paths, names, exact errors) and \
concise. Do not call tools; answer with the summary only.\
"""

HANDOFF_PREFIX = (
    "Summary of the work so far, written by the previous context before it was compacted "
    "(tool outputs it mentions are no longer visible; read files again if you need them):\n\n"
)


@dataclass(frozen=True, slots=True)
class Environment:
    cwd: Path
    shell: str
    os: str
    date: str
    timezone: str

    @classmethod
    def detect(cls, cwd: Path) -> Environment:
        now = datetime.now().astimezone()
        shell = Path(os.environ.get("SHELL") or "sh").name
        system = f"{platform.system()} {platform.release()}".strip()
        return cls(
            cwd=cwd,
            shell=shell,
            os=system,
            date=now.date().isoformat(),
            timezone=now.tzname() or "",
        )


def text_message(role: str, text: str) -> dict[str, Any]:
    """A message item with one ``input_text`` part (the form the API echoes back)."""
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def message_text(item: Item) -> str | None:
    """The text of a message item (parts joined), or ``None`` for other items."""
    if item.get("type", "message") != "message":
        return None
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return None


def permissions_message(sandbox: str, approval: str) -> dict[str, Any]:
    approvals = {
        "never": "Tool calls are never held for approval; the sandbox is the only boundary.",
        "on-request": (
            "Calls to tools that may destroy data are shown to the user, who must approve "
            "them; everything else runs at once."
        ),
        "untrusted": (
            "Every call to a tool that is not read-only is shown to the user, who must "
            "approve it. Read-only tools run at once."
        ),
    }
    sandboxes = {
        "read-only": "Commands may read files but not write them, and have no network.",
        "workspace-write": ("Commands may write inside the workspace only, and have no network."),
        "danger-full-access": "Commands run without a sandbox.",
    }
    text = (
        "<permissions>\n"
        f"Sandbox mode for commands: {sandbox}. {sandboxes.get(sandbox, '')}\n"
        f"Approval policy: {approval}. {approvals.get(approval, '')}\n"
        "</permissions>"
    )
    return text_message("developer", text)


def repository_root(cwd: Path) -> Path:
    """The nearest ancestor (or ``cwd`` itself) holding ``.git``; ``cwd`` when none does."""
    for directory in (cwd, *cwd.parents):
        if (directory / ".git").exists():
            return directory
    return cwd


def agents_files(cwd: Path) -> list[Path]:
    """AGENTS.md files from the repository root down to ``cwd``, outermost first."""
    root = repository_root(cwd)
    chain = [cwd]
    if cwd != root:
        for parent in cwd.parents:
            chain.append(parent)
            if parent == root:
                break
    found = []
    for directory in reversed(chain):
        candidate = directory / AGENTS_FILE
        if candidate.is_file():
            found.append(candidate)
    return found


def agents_message(cwd: Path) -> dict[str, Any] | None:
    files = agents_files(cwd)
    if not files:
        return None
    sections: list[str] = []
    budget = MAX_AGENTS_BYTES
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        data = text.encode()
        if len(data) > budget:
            text = data[:budget].decode("utf-8", "ignore") + "\n[... cut: AGENTS.md too long]"
        budget = max(0, budget - len(data))
        sections.append(
            f"# AGENTS.md instructions for {path.parent}\n\n<INSTRUCTIONS>\n{text}\n</INSTRUCTIONS>"
        )
        if budget == 0:
            break
    if not sections:
        return None
    return text_message("user", "\n\n".join(sections))


def environment_message(env: Environment) -> dict[str, Any]:
    text = (
        "<environment_context>\n"
        f"  <cwd>{env.cwd}</cwd>\n"
        f"  <shell>{env.shell}</shell>\n"
        f"  <os>{env.os}</os>\n"
        f"  <current_date>{env.date}</current_date>\n"
        f"  <timezone>{env.timezone}</timezone>\n"
        "</environment_context>"
    )
    return text_message("user", text)


def initial_context(
    cwd: Path, *, sandbox: str, approval: str, environment: Environment | None = None
) -> list[dict[str, Any]]:
    """Items 2–4 of the module docstring, in order."""
    items = [permissions_message(sandbox, approval)]
    agents = agents_message(cwd)
    if agents is not None:
        items.append(agents)
    items.append(environment_message(environment or Environment.detect(cwd)))
    return items


def user_message(text: str) -> dict[str, Any]:
    return text_message("user", text)


def is_handoff_summary(item: Item) -> bool:
    text = message_text(item)
    return item.get("role") == "user" and text is not None and text.startswith(HANDOFF_PREFIX)


def user_texts(items: Sequence[Item], context: Sequence[Item]) -> list[Item]:
    """The user's own messages among ``items``: user-role messages that are neither part of
    the initial ``context`` nor an earlier hand-off summary."""
    context_texts = {message_text(item) for item in context}
    kept = []
    for item in items:
        if item.get("role") != "user":
            continue
        text = message_text(item)
        if text is None or text in context_texts or is_handoff_summary(item):
            continue
        kept.append(item)
    return kept
